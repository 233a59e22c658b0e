// Where a job's CPU goes inside Chromium, step by step, in one run: what an isolated page costs
// before it renders anything, what the navigation and the capture add, what a page reused without
// isolation would cost, and what the chapter's launch per job costs. CPU time (user + system, every
// Chromium process and this Node process) per job, 4 jobs at once, the benchmark page on 127.0.0.1.
//   npm run bench:page [-- jobs]
// It explains the ceiling `npm run bench` runs into: the pipeline cannot beat the floor, and the
// floor is mostly the price of a fresh isolated page (see docs/benchmarks.md).
import type { Browser, CDPSession } from 'puppeteer-core';
import { resolveExecutable } from '../lib/capture/browser.js';
import { guardPage } from '../lib/capture/page-guard.js';
import { servePages } from '../fixtures/pages.js';
import { TICKS_PER_SECOND, treeOf } from '../fixtures/procs.js';
import { BENCH_PAGE, capturePage, inIsolatedPage, launchBenchBrowser, renderIsolated } from './page.js';

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
  /** One job; `browser` is warm and shared, `cdp` a browser-level session. */
  job?: (browser: Browser, cdp: CDPSession) => Promise<void>;
  /** Instead of `job`: a loop that owns its own resources (one per concurrent slot). */
  slot?: (browser: Browser, take: () => boolean) => Promise<void>;
}

const STEPS: Step[] = [
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
  const browser = await launch();
  const cdp = await browser.target().createCDPSession();
  for (let i = 0; i < 2; i++) await renderIsolated(browser, url); // warm
  let left = JOBS;
  const take = () => left-- > 0;
  const cpu0 = treeCpuMs();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      if (step.slot) return step.slot(browser, take);
      while (take()) await step.job!(browser, cdp);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = treeCpuMs() - cpu0;
  await browser.close();
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
