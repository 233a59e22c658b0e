// Memory of a process tree (this process, its worker child, every Chromium process), as PSS so
// that pages shared between Chromium's processes are not counted once per process.
import { readdirSync, readFileSync } from 'node:fs';

function children(): Map<number, number[]> {
  const tree = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = tree.get(ppid) ?? [];
      list.push(Number(entry));
      tree.set(ppid, list);
    } catch {
      /* the process ended while we looked */
    }
  }
  return tree;
}

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** PSS in MB of the tree under `root`: total and the Chromium part. */
export function treeMemoryMb(root = process.pid): { totalMb: number; browserMb: number } {
  const tree = children();
  let total = 0;
  let browser = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    const kb = pssKb(pid);
    total += kb;
    if (/chrom|headless/i.test(comm(pid))) browser += kb;
    stack.push(...(tree.get(pid) ?? []));
  }
  return { totalMb: total / 1024, browserMb: browser / 1024 };
}

/** Samples the tree every `everyMs` until stopped; returns the peaks. */
export function sampleMemory(everyMs = 200) {
  const peak = { totalMb: 0, browserMb: 0 };
  const take = () => {
    const now = treeMemoryMb();
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
