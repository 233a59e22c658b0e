// /proc helpers for the reliability tests and the benchmarks: which processes exist, in which
// state and group, under which parent, and how much CPU they used.
import { readdirSync, readFileSync } from 'node:fs';

export interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  comm: string;
  cmdline: string;
  /** utime + stime + cutime + cstime in clock ticks: a reaped child's time is in its parent's. */
  cpuTicks: number;
  /** When it started (clock ticks since boot): with the pid, names this process even after pid reuse. */
  startTicks: number;
}

/** Clock ticks per second (USER_HZ) on Linux. */
export const TICKS_PER_SECOND = 100;

export function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ... ; comm may contain spaces, so split after the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const cpuTicks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      const startTicks = Number(f[19]);
      out.push({ pid: Number(entry), ppid: Number(f[1]), pgid: Number(f[2]), state: f[0]!, comm, cmdline, cpuTicks, startTicks });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** `root` and every process below it. */
export function treeOf(root: number, all: Proc[] = processes()): Proc[] {
  const byParent = new Map<number, Proc[]>();
  for (const p of all) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const tree = all.filter((p) => p.pid === root);
  for (let i = 0; i < tree.length; i++) tree.push(...(byParent.get(tree[i]!.pid) ?? []));
  return tree;
}

/** Those of `procs` that still exist (alive or zombie): the same pid started at the same time. */
export const stillThere = (procs: Proc[]) => {
  const now = processes();
  return procs.filter((p) => now.some((q) => q.pid === p.pid && q.startTicks === p.startTicks));
};

/** Every process (alive or zombie) in a process group. */
export const inGroup = (pgid: number) => processes().filter((p) => p.pgid === pgid);

/** Zombies whose parent is the given process. */
export const zombiesOf = (ppid: number) => processes().filter((p) => p.ppid === ppid && p.state === 'Z');

/** Polls `probe` until `ok` holds and answers that value; throws when it does not within `timeoutMs`. */
export async function eventually<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    // Failing here, not returning the last value: a caller that forgets to check must not pass.
    if (Date.now() > until) throw new Error(`eventually: not met within ${timeoutMs} ms; last value: ${JSON.stringify(v)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
