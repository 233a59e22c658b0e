// How many pages the worker renders at once, following the work: real pages spend most of their
// time waiting on the network, and a fixed slot count then leaves the CPU idle. A controller
// (steps in proportion to the CPU left, on a 3 s mean, bounded as AIMD is) samples the CPU used by
// the worker's process tree (the worker and every Chromium process) and the free memory, and
// moves the limit between a floor (the CPU-derived count, never less) and a ceiling (what the
// function's memory holds). The same code runs on Lambda (vCPUs from the memory size) and locally.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, freemem } from 'node:os';

export interface ConcurrencyBounds {
  /** Never fewer pages at once than this (the CPU-derived count). */
  floor: number;
  /** Never more: what the memory holds (lib/contract/config.ts's ceilingForMemory). */
  ceiling: number;
}

export interface LoadSample {
  /** Share of the CPU the function has that its process tree used over the window (0..1+). */
  cpuBusy: number;
  /** Free memory, MB. */
  freeMb: number;
}

export interface ControllerTuning {
  /** Below this CPU share, with pages waiting for a slot, the slots grow towards `targetCpu`. */
  raiseBelowCpu: number;
  /** The share the growth aims at: pages in proportion to the CPU left (at most half as many again). */
  targetCpu: number;
  /** Above this share the CPU is the limit: the slots shrink towards `targetCpu`, by at most `decreaseFactor`. */
  cutAboveCpu: number;
  /** The deepest cut of one step, and the cut when memory runs short. */
  decreaseFactor: number;
  /** Free memory below this cuts the slots too, whatever the CPU says. */
  minFreeMb: number;
}

// Why these values: a page more than the CPU needs costs little (the bench's floor on the 1.5 s
// page: 3.02 / 3.11 / 2.84 screenshots/s at 8 / 12 / 16 pages), a page too few leaves the CPU idle
// while they all wait. So the count grows while the CPU is under 93 % busy (to what would keep it
// 96 % busy) and only a full CPU (over 98.5 % on a 3 s mean) sheds pages, a few per step
// (docs/tuning.md has the measurements).
const CONTROLLER: ControllerTuning = { raiseBelowCpu: 0.93, targetCpu: 0.96, cutAboveCpu: 0.985, decreaseFactor: 0.75, minFreeMb: 256 };

/**
 * One control step. `saturated` says the limit was binding since the last step (pages waited for a
 * slot): only then is a higher limit worth trying.
 */
export function nextLimit(
  limit: number,
  sample: LoadSample,
  saturated: boolean,
  bounds: ConcurrencyBounds,
  t: ControllerTuning = CONTROLLER,
): number {
  const clamp = (n: number) => Math.max(bounds.floor, Math.min(bounds.ceiling, n));
  if (sample.freeMb < t.minFreeMb) return clamp(Math.floor(limit * t.decreaseFactor));
  // Over the target the other way round: the count that would use `targetCpu`. A CPU that is full
  // reads 100 % however many pages wait for it, so this sheds 4 % per step (at least one page) until it is not.
  if (sample.cpuBusy > t.cutAboveCpu) return clamp(Math.floor(limit * Math.max(t.decreaseFactor, t.targetCpu / sample.cpuBusy)));
  if (saturated && sample.cpuBusy < t.raiseBelowCpu) {
    // Pages that mostly wait on the network use the CPU in proportion to their number: the count
    // that would use `targetCpu`, by at least one and at most half as many again per step.
    const proportional = Math.round(limit * (t.targetCpu / Math.max(sample.cpuBusy, 0.01) - 1));
    return clamp(limit + Math.min(Math.max(1, Math.ceil(limit / 2)), Math.max(1, proportional)));
  }
  return clamp(limit);
}

/** CPU seconds used so far by `root` and every process below it, dead (reaped) ones included. */
export function processTreeCpuSeconds(root = process.pid): number {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6; // not Linux: this process only
  }
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(f[1]));
      // utime + stime + cutime + cstime: a reaped renderer's time lives on in its parent's.
      ticks.set(Number(entry), Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
    } catch {
      /* exited meanwhile */
    }
  }
  let total = 0;
  for (const [pid, t] of ticks) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        total += t;
        break;
      }
    }
  }
  return total / 100; // USER_HZ
}

/** Busy and total CPU time of the whole machine so far (ms, all cores): what else runs on it counts too. */
function machineCpuMs(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

export interface AdaptiveLimitOptions extends ConcurrencyBounds {
  /** vCPUs the function has (Lambda: memory / 1769 MB; locally the cores). */
  vcpus: number;
  everyMs?: number;
  /** Injected in tests; defaults to the process tree, the machine's CPU times and os.freemem(). */
  cpuSeconds?: () => number;
  machineCpu?: () => { busy: number; total: number };
  freeMb?: () => number;
}

/** A control step every STEP_EVERY samples (500 ms apart, so every second), on the mean of the last WINDOW (3 s). */
const STEP_EVERY = 2;
const WINDOW = 6;

/** A concurrency limit (like p-limit) whose size the controller moves while work runs. */
export class AdaptiveLimit {
  #limit: number;
  #active = 0;
  #saturated = false;
  #peak: number;
  readonly #queue: (() => void)[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(options: AdaptiveLimitOptions) {
    this.#limit = this.#peak = options.floor;
    const cpuSeconds = options.cpuSeconds ?? (() => processTreeCpuSeconds());
    const freeMb = options.freeMb ?? (() => freemem() / 2 ** 20);
    const machineCpu = options.machineCpu ?? (options.cpuSeconds ? () => ({ busy: 0, total: 1 }) : machineCpuMs);
    let lastCpu = cpuSeconds();
    let lastMachine = machineCpu();
    let lastAt = performance.now();
    // Pages that wait on the network start and finish their work in waves: one 500 ms sample
    // reads ~100 % while they render and ~30 % while they wait, and on the bench's 1.5 s page a
    // wave lasts ~3 s. Deciding on single samples made the limit swing 4 -> 9 -> 5, on 1.5 s means
    // 7 -> 5 -> 7; each step is decided on the mean of the last WINDOW samples, a whole wave or two.
    const window: number[] = [];
    let sinceStep = 0;
    this.#timer = setInterval(() => {
      const cpu = cpuSeconds();
      const machine = machineCpu();
      const now = performance.now();
      // The busier of the two: the function's own share of its vCPUs (on Lambda the quota is what
      // binds), and the machine's (locally the emulator and the API share the cores).
      const treeBusy = (cpu - lastCpu) / (((now - lastAt) / 1000) * options.vcpus);
      const machineBusy = (machine.busy - lastMachine.busy) / Math.max(1, machine.total - lastMachine.total);
      [lastCpu, lastMachine, lastAt] = [cpu, machine, now];
      // Idle (nothing running, nothing waiting): keep the limit reached for the next burst.
      if (this.#active === 0 && this.#queue.length === 0) {
        window.length = sinceStep = 0;
        return;
      }
      window.push(Math.max(treeBusy, machineBusy));
      if (window.length > WINDOW) window.shift();
      const freeNow = freeMb();
      if (++sinceStep < STEP_EVERY && freeNow >= CONTROLLER.minFreeMb) return;
      sinceStep = 0;
      const cpuBusy = window.reduce((a, b) => a + b, 0) / window.length;
      this.#limit = nextLimit(this.#limit, { cpuBusy, freeMb: freeNow }, this.#saturated, options);
      this.#peak = Math.max(this.#peak, this.#limit);
      this.#saturated = this.#queue.length > 0;
      this.#drain();
    }, options.everyMs ?? 500).unref();
  }

  /** Pages allowed at once now. */
  get limit(): number {
    return this.#limit;
  }

  /** The highest limit reached so far. */
  get peak(): number {
    return this.#peak;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) {
      this.#saturated = true;
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await work();
    } finally {
      this.#active--;
      this.#drain();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #drain() {
    while (this.#active < this.#limit && this.#queue.length > 0) {
      this.#active++;
      this.#queue.shift()!();
    }
  }
}
