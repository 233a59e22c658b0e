// What one compareTo at the pixel budget costs the worker: two 50-megapixel PNGs (5000 x 10000,
// the second with changed blocks) diffed by lib/worker/diff.ts while the event loop's delay is
// sampled (perf_hooks.monitorEventLoopDelay) and the process's resident memory is polled.
// `npx tsx bench/compare-cost.ts`; prints one JSON line. The event loop must never wait 100 ms:
// the worker's egress proxy and every DevTools message run on it.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
import { diffPngs } from '../lib/worker/diff.js';

const WIDTH = 5000;
const HEIGHT = 10_000;

async function image(changed: boolean): Promise<Uint8Array> {
  const blocks = changed
    ? Array.from({ length: 40 }, (_, i) => ({
        input: { create: { width: 300, height: 200, channels: 4 as const, background: { r: 200, g: 0, b: i * 6, alpha: 1 } } },
        left: (i * 997) % (WIDTH - 300),
        top: (i * 2503) % (HEIGHT - 200),
      }))
    : [];
  const base = sharp({
    create: { width: WIDTH, height: HEIGHT, channels: 4, background: { r: 250, g: 250, b: 245, alpha: 1 } },
    limitInputPixels: false,
  });
  return new Uint8Array(await base.composite(blocks).png({ compressionLevel: 1 }).toBuffer());
}

/** The machine's own noise: the event loop's worst delay over `ms` while it does nothing. */
async function idleDelayMaxMs(ms: number): Promise<number> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await new Promise((r) => setTimeout(r, ms));
  delay.disable();
  return Math.round(delay.max / 1e6);
}

export async function measureCompare(): Promise<{
  idleEventLoopMaxMs: number;
  megapixels: number;
  changedPixels: number;
  ms: number;
  eventLoopMaxMs: number;
  eventLoopP99Ms: number;
  rssBeforeMb: number;
  rssPeakMb: number;
}> {
  const idleEventLoopMaxMs = await idleDelayMaxMs(3000);
  const next = await image(true);
  const previous = await image(false);
  global.gc?.();
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const poll = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 20);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const started = performance.now();
  const diff = await diffPngs(next, previous);
  const ms = Math.round(performance.now() - started);
  delay.disable();
  clearInterval(poll);
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  return {
    idleEventLoopMaxMs,
    megapixels: (diff.width * diff.height) / 1e6,
    changedPixels: diff.changedPixels,
    ms,
    eventLoopMaxMs: Math.round(delay.max / 1e6),
    eventLoopP99Ms: Math.round(delay.percentile(99) / 1e6),
    rssBeforeMb: mb(rssBefore),
    rssPeakMb: mb(rssPeak),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await measureCompare()));
}
