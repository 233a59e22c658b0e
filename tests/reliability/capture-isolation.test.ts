// One page harms only its own job. A page whose main thread blocks while it is being captured
// (a loop in its resize or scroll handler, in `beforeprint`, in a requestAnimationFrame) used to
// hold puppeteer's browser-wide screenshot lock until its render deadline, so every other job's
// capture waited behind it. Through the whole local stack (emulator, API over HTTP, worker,
// real Chromium): 8 good jobs submitted beside each hostile job are done within the time the same
// 8 take alone plus a margin, and the hostile job ends `failed` after its page-class budget
// (PAGE_FAILURE_ATTEMPTS renders), deleted rather than sent to the DLQ for redrives. The hostile
// jobs fail in the background while the next kind is measured (the worker has slots for them all
// beside the 8), and are checked together at the end.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_FAILURE_ATTEMPTS } from '../../lib/worker/settle.js';
import { hangingPage, html, servePages, type PageServer } from '../../fixtures/pages.js';
import { eventually } from '../support/eventually.js';
import { postScreenshot } from '../support/stack.js';
import { queueDepth, settleAll, startHarness, type Harness } from './harness.js';

// 12 s: long enough that a lock held to the deadline shows plainly (see below), short enough that
// the hostile jobs' two renders each end while the suite runs on.
const RENDER_TIMEOUT_MS = 12_000;
/**
 * What the 8 good jobs may take beside a hostile page over their time alone (the bound).
 * Measured in full suite runs on 2 cores: at most 0.64 s over. With a browser-wide capture lock put
 * back on purpose, 11.7 s beside against 2.8 s alone: the good jobs wait for the hostile deadline.
 */
const MARGIN_MS = 2000;

// Each page blocks its main thread with a synchronous request the fixture server never answers:
// blocked without burning a core, so on a shared 2-core machine what the good jobs measure is the
// lock, not the CPU a spinning loop would take from them. The request itself says when it began.
const block = (name: string) => `const x = new XMLHttpRequest(); x.open('GET', '/blocking-${name}', false); x.send();`;
const TALL = '<div style="height:3000px;background:linear-gradient(#fff,#00f)">hostile</div>';
const HOSTILE = {
  resize: { page: html(TALL, `<script>addEventListener('resize', () => { ${block('resize')} });</script>`), options: { fullPage: true } },
  scroll: { page: html(TALL, `<script>addEventListener('scroll', () => { ${block('scroll')} });</script>`), options: { fullPage: true } },
  beforeprint: {
    page: html('<h1>print me</h1>', `<script>addEventListener('beforeprint', () => { ${block('beforeprint')} });</script>`),
    options: { format: 'pdf' },
  },
  // Not in the handler: in the frame after the capture resized the page.
  animationFrame: {
    page: html(TALL, `<script>addEventListener('resize', () => requestAnimationFrame(() => { ${block('animationFrame')} }));</script>`),
    options: { fullPage: true },
  },
} as const;

let pages: PageServer;
let h: Harness;
let apiUrl: string;
let aloneMs = 0;
let round = 0;

/** Submits 8 good jobs and answers how long until all 8 are done (each must be). */
async function eightGoodJobs(): Promise<number> {
  const started = Date.now();
  round++;
  const ids = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      const { res, json } = await postScreenshot(apiUrl, { url: `${pages.origin}/good-${i}?round=${round}` });
      expect(res.status, JSON.stringify(json)).toBe(202);
      return String(json.id);
    }),
  );
  const settled = await settleAll(apiUrl, ids, 90_000);
  const elapsed = Date.now() - started;
  for (const id of ids) expect(settled.get(id)?.status, JSON.stringify(settled.get(id))).toBe('done');
  return elapsed;
}

beforeAll(async () => {
  const routes: Parameters<typeof servePages>[0] = {};
  for (let i = 0; i < 8; i++) routes[`/good-${i}`] = html(`<h1>good ${i}</h1>`);
  for (const [name, { page }] of Object.entries(HOSTILE)) routes[`/hostile-${name}`] = page;
  for (const name of Object.keys(HOSTILE)) routes[`/blocking-${name}`] = hangingPage;
  pages = await servePages(routes);
  h = await startHarness({
    allow: [pages.hostPort],
    env: {
      URL2PNG_RENDER_TIMEOUT_MS: String(RENDER_TIMEOUT_MS),
      URL2PNG_VISIBILITY_TIMEOUT_S: '60',
      // More receives than the page budget: what ends the hostile job must be the page budget.
      URL2PNG_MAX_RECEIVE_COUNT: '5',
      URL2PNG_RETRY_BACKOFF_S: '1',
    },
    // 8 good jobs and every hostile job still running beside them, each with a slot of its own.
    workerEnv: { URL2PNG_RENDER_CONCURRENCY: '16' },
  });
  apiUrl = h.stack.apiUrl;
  await eightGoodJobs(); // a warm browser
}, 180_000);

afterAll(async () => {
  await h?.close();
  await pages?.close();
});

const hostileIds = new Map<string, string>();

describe('a page that blocks its main thread during capture holds only its own job', () => {
  for (const [name, { options }] of Object.entries(HOSTILE)) {
    it(`${name}: 8 good jobs beside it are done in their own time`, async () => {
      // The baseline in the same minute: the machine is shared, its load moves.
      aloneMs = await eightGoodJobs();
      const path = `/hostile-${name}`;
      const { json } = await postScreenshot(apiUrl, { url: `${pages.origin}${path}`, ...options });
      hostileIds.set(name, String(json.id));
      // Its page is blocking now (its beacon arrived), inside the capture.
      await eventually(
        () => pages.hits.get(`/blocking-${name}`) ?? 0,
        (n) => n >= 1,
        30_000,
      );
      await sleep(300);
      const besideMs = await eightGoodJobs();
      console.info(`capture isolation, ${name}: 8 good jobs ${besideMs} ms beside it, ${aloneMs} ms alone`);
      expect(besideMs, `8 good jobs took ${besideMs} ms beside the ${name} page, ${aloneMs} ms alone`).toBeLessThan(aloneMs + MARGIN_MS);
    }, 120_000);
  }

  it(`each hostile job fails render_timeout after ${PAGE_FAILURE_ATTEMPTS} renders, deleted rather than sent to the DLQ`, async () => {
    expect([...hostileIds.keys()]).toEqual(Object.keys(HOSTILE));
    const ids = [...hostileIds.values()];
    const settled = await settleAll(apiUrl, ids, 4 * RENDER_TIMEOUT_MS + 30_000);
    for (const [name, id] of hostileIds) {
      const hostile = settled.get(id);
      expect(hostile?.status, `${name}: ${JSON.stringify(hostile)}`).toBe('failed');
      expect(hostile?.error?.code, name).toBe('render_timeout');
      expect(pages.hits.get(`/hostile-${name}`), name).toBe(PAGE_FAILURE_ATTEMPTS);
    }
    // Deleted, not left for the DLQ and its redrives.
    expect(await queueDepth(h.sqs, h.stack.emulator.dlqUrl)).toBe(0);
  }, 120_000);
});
