import { afterEach, describe, expect, it } from 'vitest';
import { ceilingForMemory } from '../../lib/contract/config.js';
import { AdaptiveLimit, nextLimit, processTreeCpuSeconds } from '../../lib/worker/adaptive-concurrency.js';

const bounds = { floor: 4, ceiling: 12 };

describe('the AIMD step', () => {
  it('opens one more slot while pages wait and the CPU is near the target', () => {
    expect(nextLimit(4, { cpuBusy: 0.8, freeMb: 4000 }, true, bounds)).toBe(5);
    expect(nextLimit(10, { cpuBusy: 0.9, freeMb: 4000 }, true, { floor: 4, ceiling: 16 })).toBe(11);
  });
  it('grows in proportion to the CPU left (pages that wait use it in proportion), at most by half', () => {
    expect(nextLimit(6, { cpuBusy: 0.6, freeMb: 4000 }, true, bounds)).toBe(9); // 6 x 0.96 / 0.6 = 9.6, at most half again
    expect(nextLimit(8, { cpuBusy: 0.8, freeMb: 4000 }, true, { floor: 4, ceiling: 16 })).toBe(10); // 8 x 0.96 / 0.8 = 9.6
    expect(nextLimit(4, { cpuBusy: 0.2, freeMb: 4000 }, true, bounds)).toBe(6); // capped at half again
    expect(nextLimit(6, { cpuBusy: 0.2, freeMb: 4000 }, true, bounds)).toBe(9);
  });
  it('does not grow when nothing waited for a slot', () => {
    expect(nextLimit(4, { cpuBusy: 0.1, freeMb: 4000 }, false, bounds)).toBe(4);
  });
  it('holds between the raise and cut thresholds', () => {
    expect(nextLimit(7, { cpuBusy: 0.95, freeMb: 4000 }, true, bounds)).toBe(7);
    expect(nextLimit(7, { cpuBusy: 0.98, freeMb: 4000 }, true, bounds)).toBe(7);
  });
  it('sheds pages when the CPU is the limit, in proportion (a full CPU: 4 % per step, at least one page), never below the floor', () => {
    expect(nextLimit(12, { cpuBusy: 1.0, freeMb: 4000 }, true, bounds)).toBe(11); // 12 x 0.96 = 11.5
    expect(nextLimit(9, { cpuBusy: 0.99, freeMb: 4000 }, true, bounds)).toBe(8);
    expect(nextLimit(12, { cpuBusy: 1.6, freeMb: 4000 }, true, bounds)).toBe(9); // at most a quarter
    expect(nextLimit(5, { cpuBusy: 1.0, freeMb: 4000 }, true, bounds)).toBe(4);
  });
  it('cuts when free memory runs low, whatever the CPU', () => {
    expect(nextLimit(8, { cpuBusy: 0.1, freeMb: 100 }, true, bounds)).toBe(6);
  });
  it('never passes the ceiling', () => {
    expect(nextLimit(12, { cpuBusy: 0.1, freeMb: 4000 }, true, bounds)).toBe(12);
  });
});

describe('the ceiling follows the memory', () => {
  it.each([
    [2048, 4, 16], // (2048 - 450) / 90 = 17.7, capped at 16
    [1024, 2, 6],
    [512, 2, 2], // never below the floor
    [10240, 8, 16], // hard cap
  ])('%s MB, floor %s -> %s pages', (mb, floor, pages) => {
    expect(ceilingForMemory(mb, floor)).toBe(pages);
  });
});

describe('AdaptiveLimit', () => {
  let limit: AdaptiveLimit | undefined;
  afterEach(() => limit?.stop());

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('admits more pages while they only wait, and shrinks back when the CPU saturates', async () => {
    // A CPU clock that runs at `busy` x wall time, whatever the timers' delays on a loaded machine.
    let cpu = 0;
    let busy = 0.2;
    let last = performance.now();
    const cpuSeconds = () => {
      const now = performance.now();
      cpu += (busy * (now - last)) / 1000;
      last = now;
      return cpu;
    };
    limit = new AdaptiveLimit({ floor: 2, ceiling: 8, vcpus: 1, everyMs: 20, cpuSeconds, freeMb: () => 4000 });
    let running = 0;
    let most = 0;
    const job = () =>
      limit!.run(async () => {
        most = Math.max(most, ++running);
        await sleep(60);
        running--;
      });
    await Promise.all(Array.from({ length: 60 }, job));
    expect(limit.peak).toBe(8);
    expect(most).toBe(8); // the pages really ran 8 at once, never more
    busy = 1.5;
    await Promise.all(Array.from({ length: 30 }, job));
    expect(limit.limit).toBe(2);
  });

  it('decides on the mean of a window, not on one sample: pages rendering in waves (100 %, 100 %, 30 %) still get more slots', async () => {
    // A CPU clock that runs full for two samples, then at 30 % for one, whatever the timers' delays:
    // one sample at a time, most steps would see a full CPU and cut; the mean (77 %) says grow.
    let cpu = 0;
    let samples = 0;
    let last = performance.now();
    limit = new AdaptiveLimit({
      floor: 2,
      ceiling: 8,
      vcpus: 1,
      everyMs: 20,
      cpuSeconds: () => {
        const now = performance.now();
        cpu += ((samples++ % 3 === 2 ? 0.3 : 1) * (now - last)) / 1000;
        last = now;
        return cpu;
      },
      freeMb: () => 4000,
    });
    await Promise.all(Array.from({ length: 80 }, () => limit!.run(() => sleep(40))));
    expect(limit.peak).toBe(8); // to the ceiling: a 77 % mean is below the raise threshold
    expect(limit.limit).toBeGreaterThanOrEqual(limit.peak - 1); // grew and stayed, no cut to the floor
  });

  it('counts what else keeps the machine busy (locally the emulator and the API): no growth while the cores are full', async () => {
    let machine = { busy: 0, total: 0 };
    limit = new AdaptiveLimit({
      floor: 2,
      ceiling: 8,
      vcpus: 1,
      everyMs: 20,
      cpuSeconds: () => 0, // the worker's own tree looks idle
      machineCpu: () => (machine = { busy: machine.busy + 99, total: machine.total + 100 }),
      freeMb: () => 4000,
    });
    await Promise.all(Array.from({ length: 40 }, () => limit!.run(() => sleep(30))));
    expect(limit.peak).toBe(2);
  });

  it('never runs more than the limit at once', async () => {
    limit = new AdaptiveLimit({ floor: 3, ceiling: 3, vcpus: 1, everyMs: 10, cpuSeconds: () => 0, freeMb: () => 4000 });
    let running = 0;
    let most = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limit!.run(async () => {
          most = Math.max(most, ++running);
          await sleep(5);
          running--;
          return i;
        }),
      ),
    );
    expect(most).toBe(3);
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('a failing job frees its slot', async () => {
    limit = new AdaptiveLimit({ floor: 1, ceiling: 1, vcpus: 1, cpuSeconds: () => 0, freeMb: () => 4000 });
    await expect(limit.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit.run(async () => 'next')).resolves.toBe('next');
  });
});

describe('processTreeCpuSeconds', () => {
  it('counts this process (and grows as it works)', () => {
    const before = processTreeCpuSeconds();
    const until = Date.now() + 120;
    while (Date.now() < until); // burn CPU
    expect(processTreeCpuSeconds()).toBeGreaterThan(before);
  });
});
