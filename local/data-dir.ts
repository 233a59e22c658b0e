// The data directory of `npm start`: one running service per directory (two emulators writing one
// SQLite file would each keep a different picture of the queues), emptied on request.
// It holds job messages with their credentials, html inputs, images and the receipt signing key:
// the directory is 0700 and every file in it 0600 (start.ts sets the umask so that new files are
// too). It carries a marker file, and the service neither uses nor empties (`--fresh`) a directory
// that holds anything else without it: URL2PNG_DATA_DIR=. or =$HOME must not lose or expose a file.
import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { EMULATOR_SECRET_FILE } from '../lib/storage/aws.js';
import { LOCAL_KEY_FILE, LOCAL_PUBLIC_KEY_FILE } from '../lib/receipts/receipt-key.js';

/** The file that says a directory is a url2png data directory. */
export const DATA_DIR_MARKER = '.url2png-data-dir';
const LOCK_FILE = 'service.pid';
/** What the service itself writes (a directory from before the marker existed holds only these). */
const OWN_ENTRIES = new Set([DATA_DIR_MARKER, LOCK_FILE, 'sqs', 's3', LOCAL_KEY_FILE, LOCAL_PUBLIC_KEY_FILE, EMULATOR_SECRET_FILE]);

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

/** Whether `dir` is ours: it has the marker, or holds only what the service writes (or nothing). */
function isOurs(dir: string): boolean {
  const entries = readdirSync(dir);
  return entries.includes(DATA_DIR_MARKER) || entries.every((name) => OWN_ENTRIES.has(name) || name.startsWith(`${LOCAL_KEY_FILE}.`));
}

/** Directories 0700 and files 0600, all the way down (a directory from an older run may be 0755). */
function tighten(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    if ((stat.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
    for (const name of readdirSync(path)) tighten(join(path, name));
  } else if ((stat.mode & 0o777) !== 0o600) {
    chmodSync(path, 0o600);
  }
}

/**
 * Takes the lock file with O_EXCL (`wx`): of two services starting at once exactly one creates it.
 * A lock left by a process that is gone (a crash) is removed and taken again.
 */
function takeLock(dir: string, lock: string): void {
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(lock, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        continue; // released meanwhile: try again
      }
      if (holder && holder !== process.pid && alive(holder)) {
        throw new Error(`${dir} is in use by another url2png service (pid ${holder}); stop it, or give this one its own URL2PNG_DATA_DIR`);
      }
      // An empty lock may be one being written this instant: only a dead holder's is removed.
      if (!holder && attempt < 4) continue;
      rmSync(lock, { force: true });
      continue;
    }
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return;
  }
  throw new Error(`could not take the lock ${lock}: another service keeps taking it; stop it, or give this one its own URL2PNG_DATA_DIR`);
}

export function claimDataDir(path: string, options: { fresh?: boolean } = {}): DataDir {
  const dir = resolve(path);
  const lock = join(dir, LOCK_FILE);
  if (existsSync(dir) && !isOurs(dir)) {
    throw new Error(
      `${dir} holds files that are not url2png's (no ${DATA_DIR_MARKER} marker), so it is neither used nor emptied: point URL2PNG_DATA_DIR at a new or empty directory`,
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  takeLock(dir, lock);
  try {
    if (options.fresh) {
      for (const name of readdirSync(dir))
        if (name !== LOCK_FILE && name !== DATA_DIR_MARKER) rmSync(join(dir, name), { recursive: true, force: true });
    }
    writeFileSync(join(dir, DATA_DIR_MARKER), 'url2png data directory: `npm start -- --fresh` may empty it.\n', { mode: 0o600 });
    tighten(dir);
  } catch (error) {
    rmSync(lock, { force: true });
    throw error;
  }
  return {
    dir,
    fresh: Boolean(options.fresh),
    release: () => rmSync(lock, { force: true }),
  };
}
