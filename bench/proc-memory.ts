// Memory of a process tree (this process, its worker child, every Chromium process), as PSS so
// that pages shared between Chromium's processes are not counted once per process.
import { readFileSync } from 'node:fs';
import { type Proc, treeOf } from '../fixtures/procs.js';

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** PSS in MB of these processes (a tree): total and the Chromium part. */
function treeMemoryMb(tree: Proc[]): { totalMb: number; browserMb: number } {
  let total = 0;
  let browser = 0;
  for (const p of tree) {
    const kb = pssKb(p.pid);
    total += kb;
    if (/chrom|headless/i.test(p.comm)) browser += kb;
  }
  return { totalMb: total / 1024, browserMb: browser / 1024 };
}

/** Resident set of a process in kB, from /proc/<pid>/statm (cheap: no page-table walk). */
function rssKb(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4;
  } catch {
    return 0;
  }
}

/**
 * Samples the tree every `everyMs` until stopped; returns the peaks. PSS is dear to read (the
 * kernel walks every mapping: ~35 ms of CPU for a browser with 8 pages, which at 5 samples a
 * second took ~9 % of this 2-core machine from the pipeline it measured), so it is read only when
 * the cheap resident set has passed its highest value so far by 2 %: PSS peaks where RSS does.
 */
export function sampleMemory(everyMs = 200, root = () => process.pid) {
  const peak = { totalMb: 0, browserMb: 0 };
  let highestRssKb = 0;
  const take = (always: boolean) => {
    const tree = treeOf(root());
    const rss = tree.reduce((sum, p) => sum + rssKb(p.pid), 0);
    if (!always && rss <= highestRssKb * 1.02) return; // within 2 % of a peak already read
    highestRssKb = Math.max(highestRssKb, rss);
    const now = treeMemoryMb(tree);
    peak.totalMb = Math.max(peak.totalMb, now.totalMb);
    peak.browserMb = Math.max(peak.browserMb, now.browserMb);
  };
  take(true);
  const timer = setInterval(() => take(false), everyMs);
  return {
    stop() {
      clearInterval(timer);
      take(true);
      return peak;
    },
  };
}
