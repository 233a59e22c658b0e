// What the quality checks and the extracts cost per job, each on its own, next to what the job's
// render itself costs, in one run. CPU time (user + system of this process and every Chromium
// process) per job, the benchmark page plus a paragraph of accented, CJK and emoji text (so the
// missing-glyph probe has characters to check), one job at a time so each cost is its own.
//   npm run bench:quality [-- jobs]
// The kernel counts CPU in 10 ms ticks: each step runs REPEAT times per job and is divided, and
// an empty page.evaluate (one DevTools round trip) is measured too and taken off the page probes.
import { PROBES, findingsScript, toMarkdown, type PageFacts } from '../lib/capture/page-findings.js';
import { imageChecks } from '../lib/capture/quality.js';
import { resolveExecutable } from '../lib/capture/browser.js';
import { useBundledFonts } from '../lib/capture/fonts.js';
import type { ExtractKind } from '../lib/contract/findings.js';
import { servePages } from '../fixtures/pages.js';
import { TICKS_PER_SECOND, treeOf } from '../fixtures/procs.js';
import { BENCH_PAGE, launchBenchBrowser } from './page.js';

const JOBS = Number(process.argv[2] ?? 10);
const REPEAT = 20;

const MIXED = `<p lang="mul">Crème brûlée, façade, naïve — “quotes” … Ελληνικά, Русский, 東京のラーメン屋さん、北京烤鸭、서울 맛집 🙂🚀🎉 ${'àéîõüçñ'.repeat(3)}</p>`;
const pages = await servePages({ '/page': BENCH_PAGE.replace('</main>', `${MIXED}</main>`) });
const url = `${pages.origin}/page`;
useBundledFonts(); // the worker's fonts, so the glyph probe sees what the worker's pages see
const browser = await launchBenchBrowser(await resolveExecutable(process.env.CHROMIUM_PATH || undefined));

/** CPU ms of this process and its descendants (Chromium), ended ones included. */
const treeCpuMs = () => (treeOf(process.pid).reduce((sum, p) => sum + p.cpuTicks, 0) * 1000) / TICKS_PER_SECOND;
/** CPU ms of this process alone (sharp's threads and turndown run here), at µs resolution. */
const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

type Totals = Record<string, number>;
const totals: Totals = {};
const add = (name: string, ms: number) => {
  totals[name] = (totals[name] ?? 0) + ms;
};

async function timed(name: string, clock: () => number, work: () => Promise<unknown>, times = REPEAT) {
  const start = clock();
  for (let i = 0; i < times; i++) await work();
  add(name, (clock() - start) / times);
}

const extractScripts = (['metadata', 'text', 'html', 'markdown'] as ExtractKind[]).map((k) => [k, findingsScript([k], [])] as const);
const probeScripts = (Object.keys(PROBES) as Array<keyof typeof PROBES>).map((p) => [p, findingsScript([], [p])] as const);

for (let job = 0; job < JOBS; job++) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const renderStart = treeCpuMs();
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(url, { waitUntil: 'load' });
  const bytes = await page.screenshot({ type: 'png', optimizeForSpeed: true });
  add('render (viewport, load, PNG capture)', treeCpuMs() - renderStart);

  await timed('(a page.evaluate round trip)', treeCpuMs, () => page.evaluate('1'));
  for (const [name, script] of probeScripts) await timed(`probe ${name}`, treeCpuMs, () => page.evaluate(script));
  await timed('blank + tiny (sharp, this process)', ownCpuMs, () => imageChecks(bytes, 'image/png'));
  for (const [name, script] of extractScripts) await timed(`extract ${name} (in the page)`, treeCpuMs, () => page.evaluate(script));
  const facts = (await page.evaluate(findingsScript(['markdown'], []))) as PageFacts;
  await timed('extract markdown: turndown (this process)', ownCpuMs, async () => toMarkdown(facts.article!.title, facts.article!.content));
  await context.close();
}
await browser.close();
await pages.close();

const perJob = Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, v / JOBS]));
const roundTrip = perJob['(a page.evaluate round trip)'] ?? 0;
const render = perJob['render (viewport, load, PNG capture)'] ?? 1;
console.log(`CPU per job, ${JOBS} jobs, each step ${REPEAT} times per job (ms; page steps less one evaluate round trip)`);
console.log('| step | CPU ms per job | share of the render |');
console.log('| --- | --- | --- |');
let quality = 0;
for (const [name, ms] of Object.entries(perJob)) {
  const inPage = name.startsWith('probe') || name.includes('(in the page)');
  const net = inPage ? Math.max(0, ms - roundTrip) : ms;
  if (name.startsWith('probe') || name.startsWith('blank')) quality += net;
  const share = name.startsWith('render') ? '' : `${((net / render) * 100).toFixed(1)} %`;
  console.log(`| ${name} | ${net.toFixed(2)} | ${share} |`);
}
// In a job the four probes go in one evaluate (one round trip) with the image checks after it.
console.log(
  `| every quality check together (+ one round trip) | ${(quality + roundTrip).toFixed(2)} | ${(((quality + roundTrip) / render) * 100).toFixed(1)} % |`,
);
