// Where a job's CPU goes inside Chromium, step by step, in one run: what an isolated page costs
// before it renders anything, what the navigation and the capture add, what a page reused without
// isolation would cost, and what the chapter's launch per job costs. CPU time (user + system, every
// Chromium process and this Node process) per job, 4 jobs at once, the benchmark page on 127.0.0.1.
//   npm run bench:page [-- jobs]
// It explains the ceiling `npm run bench` runs into: the pipeline cannot beat the floor, and the
// floor is mostly the price of a fresh isolated page (see docs/benchmarks.md).
import type { Browser, CDPSession, Page } from 'puppeteer-core';
import { resolveExecutable } from '../lib/capture/browser.js';
import { guardPage } from '../lib/capture/page-guard.js';
import { servePages } from '../fixtures/pages.js';
import { TICKS_PER_SECOND, treeOf } from '../fixtures/procs.js';
import { timerProbe } from '../lib/capture/navigation.js';
import { findingsScript, PROBES } from '../lib/capture/page-findings.js';
import { imageChecks } from '../lib/capture/quality.js';
import { renderScreenshot } from '../lib/capture/render.js';
import { startRenderHarness } from '../fixtures/render-harness.js';
import { BENCH_PAGE, capturePage, inIsolatedPage, launchBareBrowser, launchBenchBrowser, renderBare, renderIsolated } from './page.js';

const JOBS = Number(process.argv[2] ?? 40);
const CONCURRENCY = 4;

const pages = await servePages({ '/page': BENCH_PAGE });
const url = `${pages.origin}/page`;
const executablePath = await resolveExecutable(process.env.CHROMIUM_PATH || undefined);

/**
 * CPU time, in ms, of this process and all its descendants, including those that already ended
 * (Chromium's zygote reaps its renderers, Node the browsers it launched: see Proc.cpuTicks).
 */
const treeCpuMs = () => (treeOf(process.pid).reduce((sum, p) => sum + p.cpuTicks, 0) * 1000) / TICKS_PER_SECOND;

const launch = () => launchBenchBrowser(executablePath);

interface Step {
  name: string;
  /** The browser the step's jobs run on: the worker's flags (default) or the bare browser's. */
  bare?: boolean;
  /** Instead of a browser of this bench's: a set-up of its own (the worker's render path), one job per call. */
  own?: () => Promise<{ job: () => Promise<void>; close: () => Promise<void> }>;
  /** One job; `browser` is warm and shared, `cdp` a browser-level session. */
  job?: (browser: Browser, cdp: CDPSession) => Promise<void>;
  /** Instead of `job`: a loop that owns its own resources (one per concurrent slot). */
  slot?: (browser: Browser, take: () => boolean) => Promise<void>;
}

/** The page scripts the worker runs in every job beyond the floor's capture (lib/capture/render.ts). */
const AT_REST_CHECK = '[(document.querySelector(\'meta[http-equiv="refresh" i]\') || {}).content ?? null, 0]';
const QUALITY_PROBES = findingsScript([], Object.keys(PROBES) as Array<keyof typeof PROBES>);

/** The floor's capture with the worker's page scripts (timer probe, one at-rest check); the PNG. */
async function withPageScripts(p: Page): Promise<Uint8Array> {
  await p.evaluateOnNewDocument(timerProbe);
  await p.setViewport({ width: 1280, height: 800 });
  await p.goto(url, { waitUntil: 'load' });
  await p.evaluate(AT_REST_CHECK);
  return p.screenshot({ type: 'png', optimizeForSpeed: true });
}

const STEPS: Step[] = [
  { name: 'bare browser: one job (puppeteer defaults, bench/page.ts)', bare: true, job: (b) => renderBare(b, url) },
  {
    name: 'isolated page, no DevTools session in it (context + target)',
    job: async (_b, cdp) => {
      const { browserContextId } = await cdp.send('Target.createBrowserContext', {});
      await cdp.send('Target.createTarget', { url: 'about:blank', browserContextId });
      await new Promise((r) => setTimeout(r, 100)); // let its renderer start
      await cdp.send('Target.disposeBrowserContext', { browserContextId });
    },
  },
  {
    name: '+ DevTools session: Page, Runtime, Network, lifecycle events (raw CDP)',
    job: async (_b, cdp) => {
      const { browserContextId } = await cdp.send('Target.createBrowserContext', {});
      const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank', browserContextId });
      const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
      const page = cdp.connection()!.session(sessionId)!;
      await Promise.all([
        page.send('Page.enable'),
        page.send('Runtime.enable'),
        page.send('Network.enable'),
        page.send('Page.setLifecycleEventsEnabled', { enabled: true }),
      ]);
      await cdp.send('Target.disposeBrowserContext', { browserContextId });
    },
  },
  { name: 'isolated page as puppeteer opens it: context.newPage()', job: (b) => inIsolatedPage(b, async () => undefined) },
  {
    name: '+ navigate to the page, wait for load',
    job: (b) => inIsolatedPage(b, async (p) => void (await p.goto(url, { waitUntil: 'load' }))),
  },
  { name: '+ screenshot: one job as the worker renders it', job: (b) => renderIsolated(b, url) },
  {
    name: '  + scheme guard, as it was: a DevTools session and Fetch.enable per page',
    job: (b) =>
      inIsolatedPage(b, async (p) => {
        const session = await p.createCDPSession();
        await session.send('Fetch.enable', { patterns: [{ urlPattern: 'file:*', requestStage: 'Request' }] });
        await capturePage(p, url);
        await session.detach();
      }),
  },
  {
    name: '  + scheme guard, as it is: guardPage (one interception per browser)',
    job: (b) =>
      inIsolatedPage(b, async (p) => {
        await guardPage(p);
        await capturePage(p, url);
      }),
  },
  {
    name: "  + the worker's page scripts: timer probe, one at-rest check",
    job: (b) =>
      inIsolatedPage(b, async (p) => {
        await withPageScripts(p);
      }),
  },
  {
    name: '  + the quality probes in the page and the image checks (sharp)',
    job: (b) =>
      inIsolatedPage(b, async (p) => {
        const png = await withPageScripts(p);
        await p.evaluate(QUALITY_PROBES);
        await imageChecks(png, 'image/png');
      }),
  },
  {
    name: "the worker's render path: renderScreenshot (egress proxy, page guard, at rest, quality)",
    own: async () => {
      const { guard, proxy, host, close } = await startRenderHarness([pages.hostPort], 'bench-page', undefined, executablePath);
      const job = async () =>
        void (await renderScreenshot({ url, options: {} }, { browsers: host, guard, proxy }, { timeoutMs: 30_000, loadTimeoutMs: 15_000 }));
      return { job, close };
    },
  },
  {
    name: 'not isolated: one page per slot, reused (for comparison)',
    slot: async (b, take) => {
      const context = await b.createBrowserContext();
      const page = await context.newPage();
      for (let i = 0; take(); i++) await capturePage(page, `${url}?${i}`);
      await context.close();
    },
  },
  {
    name: "chapter's model: launch, render, close",
    job: async () => {
      const browser = await launch();
      await renderIsolated(browser, url);
      await browser.close();
    },
  },
];

async function measure(step: Step): Promise<{ cpuMsPerJob: number; jobsPerSecond: number }> {
  const own = await step.own?.();
  const browser = own ? undefined : step.bare ? await launchBareBrowser(executablePath) : await launch();
  const cdp = await browser?.target().createCDPSession();
  for (let i = 0; i < 2; i++) await (own ? own.job() : renderIsolated(browser!, url)); // warm
  let left = JOBS;
  const take = () => left-- > 0;
  const cpu0 = treeCpuMs();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      if (own) while (take()) await own.job();
      else if (step.slot) return step.slot(browser!, take);
      else while (take()) await step.job!(browser!, cdp!);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = treeCpuMs() - cpu0;
  await (own ? own.close() : browser!.close());
  return { cpuMsPerJob: cpuMs / JOBS, jobsPerSecond: JOBS / seconds };
}

const rows: Array<[string, string, string]> = [];
for (const step of STEPS) {
  const r = await measure(step);
  rows.push([step.name, `${r.cpuMsPerJob.toFixed(0)} ms`, `${r.jobsPerSecond.toFixed(2)}/s`]);
  process.stderr.write(`${step.name}: ${r.cpuMsPerJob.toFixed(0)} ms CPU per job\n`);
}
await pages.close();
const w = Math.max(...rows.map(([n]) => n.length));
console.log(`CPU per job (Chromium + Node, user + system), ${CONCURRENCY} at once, ${JOBS} jobs per row`);
for (const [n, cpu, rate] of rows) console.log(`${n.padEnd(w)}  ${cpu.padStart(7)}  ${rate.padStart(8)}`);
process.exit(0);
