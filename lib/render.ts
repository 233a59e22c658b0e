// One job -> image bytes, inside a deadline. A straight flow: check the target, open an isolated
// page, size it, navigate, capture, close.
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import type { BrowserHost } from './browser.js';
import { REFUSAL_HEADER, type EgressGuard } from './egress.js';
import { PermanentFailure, TransientFailure } from './failures.js';
import type { ScreenshotOptions } from './request.js';

export interface RenderInput {
  url: string;
  options: ScreenshotOptions;
}

export interface RenderedImage {
  bytes: Uint8Array;
  contentType: string;
  extension: string;
}

export interface RenderDeps {
  browsers: BrowserHost;
  guard: EgressGuard;
}

/** How long closing a page may take before the browser is presumed wedged and killed. */
const CLOSE_GRACE_MS = 2000;

export async function renderScreenshot(
  input: RenderInput,
  deps: RenderDeps,
  timeoutMs: number,
): Promise<RenderedImage> {
  await refuseUnreachableTarget(input.url, deps.guard);
  const browser = await deps.browsers.get();
  const { page, context } = await openIsolatedPage(browser, deps.browsers.singleProcess);
  let timedOut = false;
  const timer = deadline(timeoutMs, () => {
    timedOut = true;
  });
  try {
    const work = capture(page, input);
    work.catch(() => undefined); // after a timeout its rejection (page closed under it) is expected
    const bytes = await Promise.race([work, timer.promise]);
    return { bytes, contentType: 'image/png', extension: 'png' };
  } finally {
    timer.cancel();
    await closeOrKill(page, context, deps.browsers, timedOut);
  }
}

async function refuseUnreachableTarget(url: string, guard: EgressGuard): Promise<void> {
  const verdict = await guard.checkUrl(url);
  if (!verdict.allowed) throw new PermanentFailure(verdict.code, verdict.reason);
}

async function openIsolatedPage(browser: Browser, singleProcess: boolean) {
  // A context per job keeps cookies and storage apart; single-process Chromium cannot make one.
  const context: BrowserContext | undefined = singleProcess ? undefined : await browser.createBrowserContext();
  const page = await (context ?? browser).newPage();
  return { page, context };
}

async function capture(page: Page, input: RenderInput): Promise<Uint8Array> {
  const { options } = input;
  await page.setViewport({ width: options.width, height: options.height });
  const response = await page.goto(input.url, { waitUntil: 'load', timeout: 0 });
  const refusal = response?.headers()[REFUSAL_HEADER];
  if (refusal) {
    const reason = (await response!.text().catch(() => '')).trim().replace(/^url2png egress: /, '');
    throw new PermanentFailure(refusal === 'dns_not_found' ? 'dns_not_found' : 'url_refused', reason || 'the egress policy refused the page');
  }
  return page.screenshot({ type: 'png', fullPage: options.fullPage });
}

function deadline(ms: number, onExpire: () => void) {
  let handle: NodeJS.Timeout;
  const promise = new Promise<never>((_, reject) => {
    handle = setTimeout(() => {
      onExpire();
      reject(new TransientFailure('render_timeout', `the page did not render within ${ms} ms`));
    }, ms);
  });
  return { promise, cancel: () => clearTimeout(handle) };
}

async function closeOrKill(page: Page, context: BrowserContext | undefined, browsers: BrowserHost, timedOut: boolean) {
  const closing = (context ? context.close() : page.close()).then(
    () => true,
    () => true,
  );
  const grace = new Promise<boolean>((r) => setTimeout(() => r(false), timedOut ? CLOSE_GRACE_MS : CLOSE_GRACE_MS * 5).unref());
  // A page stuck in a JS loop can wedge close(); only killing the browser frees it.
  if (!(await Promise.race([closing, grace]))) browsers.kill();
}
