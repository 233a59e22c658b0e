// What every benchmark renders, and how: the same page, the worker's Chromium flags and the
// worker's lifecycle for one job, so that the floor and the chapter's model differ from the
// pipeline only by what the pipeline adds (queue, store, API, egress proxy).
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { chromiumArgs } from '../lib/capture/browser.js';
import { html } from '../fixtures/pages.js';

/** Text, a heading and a gradient at 1280x800. */
export const BENCH_PAGE = html(
  `<main style="font:16px sans-serif;padding:24px"><h1 style="color:#124">url2png benchmark page</h1>` +
    `<p>${'Some ordinary text on an ordinary page. '.repeat(40)}</p>` +
    `<div style="width:600px;height:200px;background:linear-gradient(90deg,#c33,#36c)"></div></main>`,
);

/** The worker's flags without the egress proxy (bench/proxy-cost.ts measures that on its own). */
function benchArgs(): string[] {
  return chromiumArgs({ singleProcess: false, proxy: { url: 'http://127.0.0.1:9' } }).filter((a) => !a.startsWith('--proxy-'));
}

export function launchBenchBrowser(executablePath: string): Promise<Browser> {
  return puppeteer.launch({ executablePath, args: benchArgs(), headless: 'shell', pipe: true, defaultViewport: null });
}

/**
 * The bare browser: what a plain puppeteer script (or capture-website) runs, puppeteer-core's
 * defaults and the same Chromium binary, headless. Only `--no-sandbox` is added, and only when this
 * process runs as root, where Chromium refuses to start without it.
 */
export function launchBareBrowser(executablePath: string): Promise<Browser> {
  const root = process.getuid?.() === 0;
  return puppeteer.launch({ executablePath, headless: 'shell', args: root ? ['--no-sandbox'] : [] });
}

/** One job on the bare browser: a fresh context, viewport 1280x800, `goto` until `load`, a PNG with puppeteer's defaults, close. */
export async function renderBare(browser: Browser, url: string): Promise<void> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(url, { waitUntil: 'load' });
  await page.screenshot({ type: 'png' });
  await context.close();
}

/** Viewport, navigation to `load` and a PNG capture, with the worker's settings. */
export async function capturePage(page: Page, url: string): Promise<void> {
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(url, { waitUntil: 'load' });
  await page.screenshot({ type: 'png', optimizeForSpeed: true });
}

/** `work` on a page of a fresh browser context (the worker's isolation), closed afterwards. */
export async function inIsolatedPage(browser: Browser, work: (page: Page) => Promise<void>): Promise<void> {
  const context = await browser.createBrowserContext();
  await work(await context.newPage());
  await context.close();
}

/** One job as the worker renders it. */
export const renderIsolated = (browser: Browser, url: string) => inIsolatedPage(browser, (page) => capturePage(page, url));

/**
 * A page that waits on the network like a real one: six images, each answered after `latencyMs`
 * (a slow CDN, an API, a third-party widget), on top of BENCH_PAGE's text.
 */
export function networkBoundRoutes(latencyMs: number, prefix: string) {
  const pixel = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
  const images = Array.from(
    { length: 6 },
    (_, i) => `<img src="${prefix}/img${i}.png" width="120" height="80" style="background:#ccd">`,
  ).join('');
  const routes: Record<string, string | ((req: unknown, res: import('node:http').ServerResponse) => void)> = {
    [`${prefix}/page`]: BENCH_PAGE.replace('</main>', `<p>${images}</p></main>`),
  };
  for (let i = 0; i < 6; i++) {
    routes[`${prefix}/img${i}.png`] = (_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(pixel), latencyMs);
    };
  }
  return routes;
}
