// The data directory of `npm start`: one running service per directory (two emulators writing one
// SQLite file would each keep a different picture of the queues), emptied on request.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface DataDir {
  /** Absolute path. */
  dir: string;
  /** Whether it was emptied before this start. */
  fresh: boolean;
  /** Lets the next service have it (on a clean stop; after a crash the next start takes it over). */
  release(): void;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A service killed with its process group lingers as a zombie until init reaps it (up to a few
  // seconds on a busy machine, measured here): signal 0 still reaches it, but it holds nothing.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat[stat.lastIndexOf(')') + 2]; // after the name, which may itself hold ") "
    return state !== 'Z' && state !== 'X';
  } catch {
    return !existsSync('/proc/self/stat'); // gone meanwhile on Linux; no /proc elsewhere: signal 0 said yes
  }
};

export function claimDataDir(path: string, options: { fresh?: boolean } = {}): DataDir {
  const dir = resolve(path);
  const lock = join(dir, 'service.pid');
  let holder = 0;
  try {
    holder = Number(readFileSync(lock, 'utf8'));
  } catch {
    /* no service has it */
  }
  if (holder && holder !== process.pid && alive(holder)) {
    throw new Error(`${dir} is in use by another url2png service (pid ${holder}); stop it, or give this one its own URL2PNG_DATA_DIR`);
  }
  if (options.fresh) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(lock, String(process.pid));
  return {
    dir,
    fresh: Boolean(options.fresh),
    release: () => rmSync(lock, { force: true }),
  };
}
