// Runs handlers/worker.ts in a process of its own (local/worker-child.ts), apart from the
// emulator and the event source mapping, as Lambda runs a function apart from SQS. The process
// can die mid-batch (crash, kill, function timeout): its invocations fail, nothing is deleted,
// and SQS brings the messages back after the visibility timeout. The next invocation starts a
// new process (a cold start). Whatever browser a dead process leaves is killed and its scratch
// directory removed.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DEFAULT_SCRATCH_ROOT, killGroup, sweepStaleScratch } from '../lib/capture/browser.js';
import type { FromChild, ToChild } from './worker-child.js';

export interface LocalWorkerOptions {
  /** The function timeout: an invocation still running after it kills the process, as on Lambda. */
  timeoutMs: number;
  memoryMb: number;
  /** Lines the process writes (JSON logs, EMF metrics) go here as well as to onOutput listeners. */
  log?: (line: string) => void;
  /** Environment on top of this process's own (which the local stack has set up). */
  env?: Record<string, string>;
}

export interface LocalWorker {
  invoke(event: SQSEvent): Promise<SQSBatchResponse | undefined>;
  /** The current worker process id (undefined between a death and the next invocation). */
  readonly pid: number | undefined;
  /** Processes started so far (1 + restarts). */
  readonly starts: number;
  /** Kill the worker process now (fault injection; default SIGKILL). */
  kill(signal?: NodeJS.Signals): void;
  /** Every line the worker process prints; returns an unsubscribe function. */
  onOutput(listener: (line: string, stream: 'stdout' | 'stderr') => void): () => void;
  stop(): Promise<void>;
}

const CHILD = join(import.meta.dirname, 'worker-child.ts');
const TSX = import.meta.resolve('tsx');

interface Pending {
  resolve: (r: SQSBatchResponse | undefined) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  /** The process the invocation was sent to: its exit fails only its own invocations. */
  proc: ChildProcess;
}

export function startLocalWorker(options: LocalWorkerOptions): LocalWorker {
  const listeners = new Set<(line: string, stream: 'stdout' | 'stderr') => void>();
  let child: ChildProcess | undefined;
  let scratch = '';
  let starts = 0;
  let nextId = 0;
  let stopped = false;
  const pending = new Map<number, Pending>();
  /** An invocation's callbacks, once: whichever of answer, exit or failed send comes first settles it. */
  const settle = (id: number): Pending | undefined => {
    const p = pending.get(id);
    if (!p) return undefined;
    pending.delete(id);
    clearTimeout(p.timer);
    return p;
  };

  function spawn(): ChildProcess {
    starts++;
    scratch = join(DEFAULT_SCRATCH_ROOT, `worker-${process.pid}-${randomBytes(4).toString('hex')}`);
    const proc = fork(CHILD, [], {
      execArgv: ['--import', TSX],
      env: { ...process.env, ...options.env, URL2PNG_CHROMIUM_SCRATCH_DIR: scratch },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const procScratch = scratch;
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: proc[stream]! }).on('line', (line) => {
        for (const l of listeners) l(line, stream);
        if (options.log && !line.includes('"_aws"')) options.log(line);
      });
    }
    proc.on('message', (message: FromChild) => {
      if (message.type === 'ready') return;
      const p = settle(message.id);
      if (!p) return;
      if (message.type === 'result') p.resolve(message.result as SQSBatchResponse | undefined);
      else p.reject(new Error(`worker invocation failed: ${message.message}`));
    });
    proc.once('exit', (code, signal) => {
      if (child === proc) child = undefined;
      for (const [id, p] of pending) {
        if (p.proc === proc) settle(id)?.reject(new Error(`the worker process exited mid-invocation (${signal ?? `code ${code}`})`));
      }
      reapBrowsers(procScratch);
    });
    // Invocations are sent with a callback, which gets their send errors; this is for the rest
    // (the shutdown message, a failed kill), so that none is an uncaught exception.
    proc.on('error', (error) => options.log?.(`worker process: ${error.message}`));
    return proc;
  }

  sweepStaleScratch(DEFAULT_SCRATCH_ROOT); // what crashed earlier runs left behind
  // A process already signalled (kill(), a timeout) or cut off may not have reported its exit
  // yet; the next invocation must not be sent to it, so it gets a new one, as Lambda would.
  const current = () => {
    if (!child || child.killed || !child.connected) child = spawn();
    return child;
  };
  if (!stopped) current();

  return {
    get pid() {
      return child?.pid;
    },
    get starts() {
      return starts;
    },
    invoke(event) {
      if (stopped) return Promise.reject(new Error('the local worker is stopped'));
      const proc = current();
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          // Lambda ends a timed-out invocation by ending its execution environment.
          options.log?.(`worker invocation timed out after ${options.timeoutMs} ms; killing the worker process`);
          proc.kill('SIGKILL');
        }, options.timeoutMs + 1000);
        pending.set(id, { resolve, reject, timer, proc });
        const message = { type: 'invoke', id, event, timeoutMs: options.timeoutMs, memoryMb: options.memoryMb } satisfies ToChild;
        // A process that died a moment ago fails the send on its pipe (EPIPE): only this invocation fails.
        proc.send(message, (error) => {
          if (error) settle(id)?.reject(new Error(`the worker process could not take the invocation: ${error.message}`));
        });
      });
    },
    kill(signal = 'SIGKILL') {
      child?.kill(signal);
    },
    onOutput(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      stopped = true;
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      if (proc.connected) proc.send({ type: 'shutdown' } satisfies ToChild);
      else proc.kill('SIGTERM');
      const forced = setTimeout(() => proc.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(forced);
    },
  };
}

/**
 * After a worker process is gone: SIGKILL any browser it started (found by the scratch directory
 * on its command line; puppeteer starts Chromium in its own process group, so it would outlive
 * its parent) and remove the scratch directory.
 */
function reapBrowsers(scratch: string): number {
  let killed = 0;
  for (const pid of browserPidsUnder(scratch)) {
    killGroup(pid);
    killed++;
  }
  rmSync(scratch, { recursive: true, force: true });
  return killed;
}

/** Process ids whose command line mentions `dir` (Linux /proc; elsewhere none are found). */
function browserPidsUnder(dir: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}
