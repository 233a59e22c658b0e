// Throughput of the worker's render path (renderScreenshot: egress proxy, page set-up, capture,
// findings) with the quality checks on (the default) and off ("qualityChecks": false), on the
// benchmark page, in alternating rounds of one run so the machine's drift hits both alike.
// A benchmark, not a test: it asserts nothing.
//   npx tsx bench/quality-throughput.ts [jobs per round] [rounds]
import { renderScreenshot } from '../lib/capture/render.js';
import { useBundledFonts } from '../lib/capture/fonts.js';
import { servePages } from '../fixtures/pages.js';
import { startRenderHarness } from '../fixtures/render-harness.js';
import { BENCH_PAGE } from './page.js';

const JOBS = Number(process.argv[2] ?? 24);
const ROUNDS = Number(process.argv[3] ?? 4);
/** Pages at once: what the worker runs on 2 vCPUs (tuning.json renderPagesPerVcpu). */
const CONCURRENCY = 4;

useBundledFonts();
const pages = await servePages({ '/page': BENCH_PAGE });
const harness = await startRenderHarness([pages.hostPort], 'quality-throughput');
const deps = { browsers: harness.host, guard: harness.guard, proxy: harness.proxy };
const render = (qualityChecks: boolean) =>
  renderScreenshot({ url: `${pages.origin}/page`, options: { qualityChecks } }, deps, { timeoutMs: 30_000, loadTimeoutMs: 15_000 });

/** JOBS renders, CONCURRENCY at a time: screenshots per second. */
async function round(qualityChecks: boolean): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < JOBS) await render(qualityChecks);
    }),
  );
  return JOBS / ((performance.now() - started) / 1000);
}

await round(true); // a warm browser and proxy
const rates: Record<'on' | 'off', number[]> = { on: [], off: [] };
for (let i = 0; i < ROUNDS; i++) {
  // Alternating which goes first, so neither always meets the warmer machine.
  for (const on of i % 2 ? [false, true] : [true, false]) rates[on ? 'on' : 'off'].push(await round(on));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const on = median(rates.on);
const off = median(rates.off);
console.log(`quality checks on : ${on.toFixed(2)} screenshots/s (rounds: ${rates.on.map((r) => r.toFixed(2)).join(', ')})`);
console.log(`quality checks off: ${off.toFixed(2)} screenshots/s (rounds: ${rates.off.map((r) => r.toFixed(2)).join(', ')})`);
console.log(`off / on: ${(off / on).toFixed(3)} (${JOBS} jobs per round, ${CONCURRENCY} at once, median of ${ROUNDS} rounds)`);
await harness.close();
await pages.close();
