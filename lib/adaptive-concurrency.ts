// How many pages the worker renders at once, following the work: real pages spend most of their
// time waiting on the network, and a fixed slot count then leaves the CPU idle. An AIMD controller
// (additive increase, multiplicative decrease, as TCP's congestion window) samples the CPU used by
// the worker's process tree (the worker and every Chromium process) and the free memory, and
// moves the limit between a floor (the CPU-derived count, never less) and a ceiling (what the
// function's memory holds). The same code runs on Lambda (vCPUs from the memory size) and locally.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, freemem } from 'node:os';

export interface ConcurrencyBounds {
  /** Never fewer pages at once than this (the CPU-derived count). */
  floor: number;
  /** Never more: what the memory holds (see ceilingForMemory). */
  ceiling: number;
}

export interface LoadSample {
  /** Share of the CPU the function has that its process tree used since the last sample (0..1+). */
  cpuBusy: number;
  /** The same share one sample earlier. */
  cpuBusyBefore: number;
  /** Free memory, MB. */
  freeMb: number;
}

export interface ControllerTuning {
  /** Below this CPU share, with pages waiting for a slot, one more slot is opened. */
  raiseBelowCpu: number;
  /** Above this share for two samples in a row the CPU is the limit: the slots shrink by `decreaseFactor`. */
  cutAboveCpu: number;
  decreaseFactor: number;
  /** Free memory below this cuts the slots too, whatever the CPU says. */
  minFreeMb: number;
}

// Why these values: pages that wait on the network keep the CPU between bursts of work, so one
// sample at 100 % says little (a render just ran); only a second one in a row cuts. A cut of a
// quarter and growth by one near the top keep the sawtooth close to the limit, and growth by half
// while the CPU is mostly idle reaches it within a few seconds of a burst (bench/run.ts measures it).
const CONTROLLER: ControllerTuning = { raiseBelowCpu: 0.85, cutAboveCpu: 0.97, decreaseFactor: 0.75, minFreeMb: 256 };

/** Resident memory a page costs at most in the measured runs (renderer + its share of the browser). */
const MB_PER_PAGE = 90;
/** The worker, the browser process and their baseline before any page opens. */
const BASE_MB = 450;
const HARD_CEILING = 16;

/** The most pages a function of `memoryMb` can hold at once, never below `floor`. */
export function ceilingForMemory(memoryMb: number, floor: number): number {
  return Math.max(floor, Math.min(HARD_CEILING, Math.floor((memoryMb - BASE_MB) / MB_PER_PAGE)));
}

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
  const cpuIsTheLimit = Math.min(sample.cpuBusy, sample.cpuBusyBefore) > t.cutAboveCpu;
  if (sample.freeMb < t.minFreeMb || cpuIsTheLimit) return clamp(Math.floor(limit * t.decreaseFactor));
  if (saturated && sample.cpuBusy < t.raiseBelowCpu) {
    // Far below the CPU limit (pages mostly wait on the network) grow by half, a slow start;
    // nearer to it, one slot at a time.
    const step = sample.cpuBusy < t.raiseBelowCpu / 2 ? Math.max(1, Math.ceil(limit / 2)) : 1;
    return clamp(limit + step);
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
    let cpuBusyBefore = 0;
    this.#timer = setInterval(() => {
      const cpu = cpuSeconds();
      const machine = machineCpu();
      const now = performance.now();
      // The busier of the two: the function's own share of its vCPUs (on Lambda the quota is what
      // binds), and the machine's (locally the emulator and the API share the cores).
      const treeBusy = (cpu - lastCpu) / (((now - lastAt) / 1000) * options.vcpus);
      const machineBusy = (machine.busy - lastMachine.busy) / Math.max(1, machine.total - lastMachine.total);
      const cpuBusy = Math.max(treeBusy, machineBusy);
      [lastCpu, lastMachine, lastAt] = [cpu, machine, now];
      const before = cpuBusyBefore;
      cpuBusyBefore = cpuBusy;
      // Idle (nothing running, nothing waiting): keep the limit reached for the next burst.
      if (this.#active === 0 && this.#queue.length === 0) return;
      this.#limit = nextLimit(this.#limit, { cpuBusy, cpuBusyBefore: before, freeMb: freeMb() }, this.#saturated, options);
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
