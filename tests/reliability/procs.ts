// /proc helpers for the reliability tests: which processes exist, in which state and group.
import { readdirSync, readFileSync } from 'node:fs';

export interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  cmdline: string;
}

export function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ... ; comm may contain spaces, so split after the last ')'.
      const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      out.push({ pid: Number(entry), ppid: Number(ppid), pgid: Number(pgid), state: state!, cmdline });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Every process (alive or zombie) in a process group. */
export const inGroup = (pgid: number) => processes().filter((p) => p.pgid === pgid);

/** Zombies whose parent is the given process. */
export const zombiesOf = (ppid: number) => processes().filter((p) => p.ppid === ppid && p.state === 'Z');

export async function eventually<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
