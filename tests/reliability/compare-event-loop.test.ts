// compareTo at the pixel budget keeps the worker's event loop turning: a 50-megapixel diff
// (bench/compare-cost.ts) is measured with perf_hooks.monitorEventLoopDelay. Decoding it on the
// event loop (pngjs), as before, held it for seconds; the bound here is generous for a loaded
// 2-core machine (the budget is 100 ms on an idle one: `npx tsx bench/compare-cost.ts`).
import { describe, expect, it } from 'vitest';
import { measureCompare } from '../../bench/compare-cost.js';

describe('a 50 MP compareTo', () => {
  it('completes without holding the event loop, in bounded memory', async () => {
    const m = await measureCompare();
    console.info(`compare at the pixel budget: ${JSON.stringify(m)}`);
    expect(m.megapixels).toBe(50);
    expect(m.changedPixels).toBe(40 * 300 * 200);
    // The machine's own noise (its idle worst case) plus a margin; a diff on the loop takes seconds.
    expect(m.eventLoopMaxMs).toBeLessThan(Math.max(100, m.idleEventLoopMaxMs) + 400);
    // Two decoded copies of the common area (8 bytes a pixel: 400 MB) and the encoder's buffers.
    expect(m.rssPeakMb - m.rssBeforeMb).toBeLessThan(700);
  }, 180_000);
});
