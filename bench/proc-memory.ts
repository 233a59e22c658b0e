// Memory of a process tree (this process, its worker child, every Chromium process), as PSS so
// that pages shared between Chromium's processes are not counted once per process.
import { readFileSync } from 'node:fs';
import { treeOf } from '../tests/support/procs.js';

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** PSS in MB of the tree under `root`: total and the Chromium part. */
function treeMemoryMb(root = process.pid): { totalMb: number; browserMb: number } {
  let total = 0;
  let browser = 0;
  for (const p of treeOf(root)) {
    const kb = pssKb(p.pid);
    total += kb;
    if (/chrom|headless/i.test(p.comm)) browser += kb;
  }
  return { totalMb: total / 1024, browserMb: browser / 1024 };
}

/** Samples the tree every `everyMs` until stopped; returns the peaks. */
export function sampleMemory(everyMs = 200, root = () => process.pid) {
  const peak = { totalMb: 0, browserMb: 0 };
  const take = () => {
    const now = treeMemoryMb(root());
    peak.totalMb = Math.max(peak.totalMb, now.totalMb);
    peak.browserMb = Math.max(peak.browserMb, now.browserMb);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}
