// One job -> image bytes, inside a deadline. A straight flow: check the target, open an isolated
// page, size it, navigate and let it settle (lib/capture/navigation.ts), capture, close.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext, HTTPResponse, Page } from 'puppeteer-core';
import { openIsolatedPage, type PageReserve } from './isolated-page.js';
import type { BrowserHost } from './browser.js';
import { egressRefusal, type EgressGuard, type EgressProxy } from '../egress/egress.js';
import { PermanentFailure, TransientFailure } from '../contract/failures.js';
import { freezePage, stillForCapture } from './deterministic.js';
import {
  NAVIGATED_AWAY,
  navigateAndLoad,
  quietWindowMs,
  stayedPut,
  timerProbe,
  throwIfFailed,
  waitWhileNavigating,
  watchPage,
  type PageWatch,
  type SettleDeadlines,
} from './navigation.js';
import { blockingEngines, blockingReason, blocksRequests, type Engines, type RequestFacts } from './blocking.js';
import { answerConsentBanners } from './consent.js';
import { explainNavigationFailure, guardPage } from './page-guard.js';
import { printPdf } from './pdf.js';
import { clearSiteState, trackOrigins } from './site-state.js';
import { extractsDocument, readPageFacts, type PageFacts } from './page-findings.js';
import { imageChecks, pageChecks, qualityReport, refuseQuality, type ImageChecks } from './quality.js';
import type { ExtractsDocument, QualityReport } from '../contract/findings.js';
import { captureImage } from './page-capture.js';
import type { CaptureFacts } from '../receipts/receipt.js';
import {
  addStyles,
  authoriseOrigin,
  clickElement,
  emulateIdentity,
  hideBlockedContent,
  injectStyle,
  emulateMedia,
  runScripts,
  scrollToElement,
  setCookies,
  settleAnimations,
  viewportFor,
} from './page-setup.js';
import { captureFullPage, fullPageMaxImageHeight } from './stitch.js';
import {
  effectiveQuality,
  FORMAT_INFO,
  LIMITS,
  screenshotOptionsSchema,
  type ScreenshotOptions,
  type ScreenshotOptionsInput,
} from '../contract/request.js';
import { maxImageHeight } from '../contract/limits.js';

export interface RenderInput {
  /** The page; ignored when html is given. */
  url: string;
  /** An html document to render instead of a URL (at about:blank: its sub-resources go through the proxy like any page's). */
  html?: string;
  /** Omitted fields take the schema's defaults. */
  options: ScreenshotOptionsInput;
  /** When the job was requested: the frozen clock of a deterministic capture without `now`. */
  requestedAt?: string;
}

export interface RenderedImage {
  bytes: Uint8Array;
  contentType: string;
  extension: string;
  /** What the capture observed, for its receipt. */
  facts: CaptureFacts;
  /** fullPage only: the page was taller than the documented maximum and the image was cut. */
  truncated?: boolean;
  /** The checks of the capture (lib/capture/quality.ts). */
  quality?: QualityReport;
  /** When the request had `extract`: what it asked for. */
  extracts?: ExtractsDocument;
}

export interface RenderDeps {
  browsers: BrowserHost;
  guard: EgressGuard;
  /** Gives each job's browser context a proxy port of its own, so its connections are its own. */
  proxy?: Pick<EgressProxy, 'openSession'>;
  /** Pages opened ahead (with `proxy`'s sessions; never for single-process Chromium); without it each job opens its own. */
  pages?: PageReserve;
}

interface RenderDeadlines {
  /** The whole render: a page that has not even answered by then is a transient render_timeout. */
  timeoutMs: number;
  /** A page whose `load` has not fired by then is captured as it stands (at most half of timeoutMs). */
  loadTimeoutMs: number;
}

/** How long closing a page may take before the browser is presumed wedged and killed. */
const CLOSE_GRACE_MS = 2000;
/** How long opening a page may take before the browser is presumed wedged and killed. */
const OPEN_PAGE_HANG_MS = 10_000;

export async function renderScreenshot(input: RenderInput, deps: RenderDeps, deadlines: RenderDeadlines | number): Promise<RenderedImage> {
  const { timeoutMs, loadTimeoutMs } = typeof deadlines === 'number' ? { timeoutMs: deadlines, loadTimeoutMs: deadlines / 2 } : deadlines;
  const options = screenshotOptionsSchema.parse(input.options) as ScreenshotOptions;
  const startedAt = new Date().toISOString();
  if (deps.browsers.singleProcess && options.authentication) {
    // Chromium keeps answered credentials in an HTTP auth cache that DevTools cannot clear, and in
    // single-process mode every job shares it (lib/capture/site-state.ts).
    throw new PermanentFailure(
      'invalid_options',
      'authentication is not available on this worker (single-process Chromium shares its HTTP authentication cache between jobs); send the credentials in headers (e.g. Authorization) instead',
    );
  }
  if (input.html === undefined) await refuseUnreachableTarget(input.url, deps.guard);
  // The lists are parsed on the first job that blocks anything, never for the others.
  const engines = options.blockAds || options.blockTrackers || options.blockCookieBanners ? await blockingEngines() : undefined;
  const browser = await deps.browsers.get();
  // A wedged browser (single-process Chromium after a hung page) can stall even newPage(): bounded
  // too, and the browser killed so the next job gets a fresh one.
  // The bound is a hang detector, not the render deadline: a cold browser on a busy machine can
  // take a few seconds for its first page, and killing it then would only start the same over.
  const { page, context, session } = await bounded(
    deps.pages ? deps.pages.take(browser) : openIsolatedPage(browser, deps.browsers.singleProcess, deps.proxy),
    Math.max(timeoutMs, OPEN_PAGE_HANG_MS),
    () => deps.browsers.kill('opening a page hung'),
  );
  // Single-process: what the page's sites stored is cleared after the job (no context to drop).
  const origins = context ? undefined : trackOrigins(page);
  const seen: { truncated?: boolean } = {};
  let timedOut = false;
  const timer = deadline(timeoutMs, () => {
    timedOut = true;
  });
  try {
    // Non-http(s) schemes are refused in the page too; a refused navigation is named as such.
    // Inside the deadline: on a wedged browser even the DevTools set-up can hang.
    const watch = watchPage(page, options.waitUntil === 'domcontentloaded' ? 'domcontentloaded' : 'load');
    const started = Date.now();
    const until = started + timeoutMs;
    const settle = {
      loadBy: started + loadTimeoutMs,
      loadMs: loadTimeoutMs,
      settleBy: started + Math.max(loadTimeoutMs, timeoutMs * 0.75),
      quietMs: quietWindowMs(timeoutMs),
    };
    const block = engines && blocksRequests(options) ? (r: RequestFacts) => blockingReason(options, r, engines) : undefined;
    const work = guardPage(page, block).then((pageGuard) =>
      capture(
        page,
        input,
        options,
        watch,
        { until, ...settle },
        Date.parse(options.now ?? input.requestedAt ?? startedAt),
        seen,
        engines,
      ).catch((error: unknown) => explainNavigationFailure(error, pageGuard, deps.guard)),
    );
    work.catch(() => undefined); // after a timeout its rejection (page closed under it) is expected
    const {
      bytes,
      pageFacts,
      imageChecks: checked,
    } = await Promise.race([work, timer.promise, watch.crashed])
      .catch((error: unknown) => {
        // A capture bounded by the same deadline (lib/capture/page-capture.ts) may name it first:
        // either way the page outlived its deadline and is closed (or its browser killed) as such.
        if (error instanceof TransientFailure && error.code === 'render_timeout') timedOut = true;
        throw error;
      })
      .finally(() => watch.dispose());
    const capturedAt = new Date().toISOString();
    const finalUrl = page.url();
    const httpStatus = watch.lastDocument()?.status() ?? null;
    const quality = options.qualityChecks ? qualityReport({ ...checked, ...pageChecks(pageFacts, httpStatus) }) : undefined;
    if (quality) refuseQuality(quality, options.qualityFail);
    const extracts = options.extract.length
      ? await extractsDocument(options.extract, pageFacts, { finalUrl, document: watch.lastDocument() })
      : undefined;
    const facts: CaptureFacts = {
      finalUrl,
      httpStatus,
      connections: session ? [...session.connections] : null,
      browser: await browserVersion(browser),
      startedAt,
      capturedAt,
    };
    return {
      bytes,
      ...FORMAT_INFO[options.format],
      facts,
      ...(seen.truncated ? { truncated: true } : {}),
      ...(quality ? { quality } : {}),
      ...(extracts ? { extracts } : {}),
    };
  } finally {
    timer.cancel();
    if (origins && !timedOut) {
      await clearSiteState(page, origins).catch(() => deps.browsers.kill('could not clear the per-site state of single-process Chromium'));
    }
    await closeOrKill(page, context, deps.browsers, timedOut);
    await session?.close();
  }
}

const versions = new WeakMap<Browser, Promise<string>>();
/** Asked once per launched browser: one DevTools round trip, not one per job. */
function browserVersion(browser: Browser): Promise<string> {
  let version = versions.get(browser);
  if (!version) {
    version = browser.version();
    versions.set(browser, version);
  }
  return version;
}

async function refuseUnreachableTarget(url: string, guard: EgressGuard): Promise<void> {
  const verdict = await guard.checkUrl(url);
  if (verdict.allowed) return;
  if (verdict.code === 'dns_unavailable') throw new TransientFailure('page_unreachable', verdict.reason);
  throw new PermanentFailure(verdict.code, verdict.reason);
}

// The capture, in the order the request's fields take effect. Every wait is bounded by the
// render deadline (`until`), so a page can slow a job down but never hang it.
async function capture(
  page: Page,
  { url, html }: RenderInput,
  o: ScreenshotOptions,
  watch: PageWatch,
  d: SettleDeadlines & { until: number },
  clock: number,
  seen: { truncated?: boolean },
  engines: Engines | undefined,
): Promise<{ bytes: Uint8Array; pageFacts: PageFacts; imageChecks?: ImageChecks }> {
  await page.setViewport(viewportFor(o));
  // The page's timers are counted from its first script on, so that a page at rest is seen to be
  // (before freezePage, which stops the clock the count is kept by).
  await (html === undefined ? page.evaluateOnNewDocument(timerProbe) : page.evaluate(timerProbe));
  const consent = o.blockCookieBanners ? await answerConsentBanners(page) : undefined;
  if (o.deterministic) await freezePage(page, clock);
  // A fresh headless page already prefers light and motion: only the fields set cost DevTools round trips.
  await emulateMedia(page, o);
  await emulateIdentity(page, o);
  if (html === undefined) {
    await setCookies(page, o, url);
    await authoriseOrigin(page, o, url);
  }

  await openDocument(page, { url, html }, o, watch, d);
  // An html document is written into the page's about:blank, which is no new document: autoconsent starts in it now.
  if (html !== undefined) await consent?.startInCurrentDocument();
  // Rejecting may reload the page or change it: the quiet window below waits that out.
  await consent?.settled(d.until - 1500);
  // Captured once at rest (the quiet window, lib/capture/navigation.ts). One that navigated during the
  // capture is settled and captured again; one that never stops moving is taken where it is after
  // CAPTURE_ROUNDS.
  for (let round = 1; ; round++) {
    // Shoot only a page at rest: Chromium can leave a capture of a page that is leaving (or about
    // to) unanswered until the render deadline, so no navigation may be in flight and nothing may
    // have happened to the page for the quiet window (cut short when nothing is left to move it).
    await untilAtRest(page, watch, d);
    await refuseEgressAnswer(watch.lastDocument());
    refuseHttpError(o, watch.lastDocument());
    const hopsBefore = watch.hops;
    const before = { hops: watch.hops, activityAt: watch.lastActivityAt };
    let bytes: Uint8Array;
    try {
      bytes = await shootUnlessNavigated(page, o, d.until, seen, watch, hopsBefore, engines);
    } catch (error) {
      // Only a navigation the page itself started is repeated; a crashed or closed browser
      // or page is what it is (transient, classified by lib/contract/failures.ts).
      const navigated = watch.hops !== hopsBefore;
      if (!navigated || page.isClosed() || !page.browser().connected || !NAVIGATED_AWAY.test((error as Error)?.message ?? '')) throw error;
      if (round >= CAPTURE_ROUNDS || left(d.until) < 1000) {
        throw new PermanentFailure('page_navigating', 'the page kept navigating away while it was being captured');
      }
      await settleAgain(watch, d);
      continue;
    }
    // Nothing happened to the page while it was captured: the image shows where it ended.
    if (round >= CAPTURE_ROUNDS || (watch.hops === before.hops && watch.lastActivityAt === before.activityAt)) {
      // The image's checks (sharp, on libuv's threads) run while the page answers its probes. An
      // image sharp cannot read is reported without blank and tiny, never a failed capture.
      const checked = o.qualityChecks ? imageChecks(bytes, FORMAT_INFO[o.format].contentType).catch(() => ({})) : undefined;
      const pageFacts = await readFindings(page, o);
      return { bytes, pageFacts, imageChecks: await checked };
    }
    await settleAgain(watch, d);
  }
}

/**
 * The extracts and the quality probes, from the page the image shows. Without extract the probes are
 * best effort: a page that navigates away under them leaves its checks unflagged rather than failing
 * a capture that succeeded.
 */
async function readFindings(page: Page, o: ScreenshotOptions): Promise<PageFacts> {
  const facts = readPageFacts(page, o.extract, o.qualityChecks);
  return o.extract.length ? facts : facts.catch(() => ({}));
}

/**
 * A capture the page navigated away from is abandoned, not waited for: on a busy machine Chromium
 * may answer it only at the render deadline, if at all. The abandoned call's late answer is dropped.
 */
async function shootUnlessNavigated(
  page: Page,
  o: ScreenshotOptions,
  until: number,
  seen: { truncated?: boolean },
  watch: PageWatch,
  hopsBefore: number,
  engines: Engines | undefined,
): Promise<Uint8Array> {
  let done = false;
  const shot = prepareAndShoot(page, o, until, seen, engines);
  const navigated = (async (): Promise<never> => {
    while (!done && watch.hops === hopsBefore) await sleep(NAVIGATION_POLL_MS);
    throw new Error('Not attached to an active page: it navigated during the capture');
  })();
  shot.catch(() => undefined);
  navigated.catch(() => undefined);
  try {
    return await Promise.race([shot, navigated]);
  } finally {
    done = true;
  }
}

const NAVIGATION_POLL_MS = 25;

/** Waits for the page to come to rest (lib/capture/navigation.ts's quiet window), at most QUIET_CHECKS times. */
async function untilAtRest(page: Page, watch: PageWatch, d: SettleDeadlines & { until: number }): Promise<void> {
  for (let check = 0; check < QUIET_CHECKS && left(d.until) > 1000; check++) {
    await settleAgain(watch, d);
    if (await stayedPut(page, watch, { hops: watch.hops, activityAt: watch.lastActivityAt }, d)) return;
  }
}

const QUIET_CHECKS = 4;

/** How often a capture is repeated after the page navigated under or right after it. */
const CAPTURE_ROUNDS = 4;

/** After the page navigated again: wait for that navigation as for the first one. */
async function settleAgain(watch: PageWatch, d: SettleDeadlines) {
  await waitWhileNavigating(watch, d);
  throwIfFailed(watch);
}

/**
 * A URL is navigated to and settled (lib/capture/navigation.ts). An html document is written into the fresh
 * page's about:blank: it has no origin of its own, and whatever it loads goes through the proxy (and
 * the page guard) like any page's requests; like a page's load, it gets the load deadline and is
 * then captured as it stands.
 */
async function openDocument(
  page: Page,
  { url, html }: Pick<RenderInput, 'url' | 'html'>,
  o: ScreenshotOptions,
  watch: PageWatch,
  d: SettleDeadlines,
) {
  if (html === undefined) return navigateAndLoad(page, url, watch, d);
  const written = page.setContent(html, { waitUntil: o.waitUntil === 'domcontentloaded' ? 'domcontentloaded' : 'load', timeout: 0 });
  written.catch(() => undefined); // past the load deadline the capture goes on without it
  await Promise.race([written, sleep(Math.max(0, d.loadBy - Date.now()))]);
}

/** failOnHttpError: the page's own final document answered an error status. */
function refuseHttpError(o: ScreenshotOptions, document: HTTPResponse | undefined): void {
  if (!o.failOnHttpError || !document || document.status() < 400) return;
  const status = `${document.status()} ${document.statusText()}`.trim();
  const message = `the page answered HTTP ${status} (failOnHttpError is set)`;
  // A server error may pass on a later try; a client error will not.
  throw document.status() >= 500 ? new TransientFailure('http_error', message) : new PermanentFailure('http_error', message);
}

/** The main frame's final document was the proxy's refusal (a redirect or script led there). */
async function refuseEgressAnswer(document: HTTPResponse | undefined): Promise<void> {
  const refusal = document ? egressRefusal(document.headers()) : undefined;
  if (!refusal) return;
  // The proxy's body says why (which address, which rule).
  const said = (await document!.text().catch(() => '')).trim().replace(/^url2png egress: /, '');
  const reason = said || `the page led to ${document!.url()}, which the egress policy refuses`;
  if (refusal === 'dns_unavailable') throw new TransientFailure('page_unreachable', reason);
  throw new PermanentFailure(refusal === 'dns_not_found' ? 'dns_not_found' : 'url_refused', reason);
}

async function prepareAndShoot(
  page: Page,
  o: ScreenshotOptions,
  until: number,
  seen: { truncated?: boolean },
  engines: Engines | undefined,
): Promise<Uint8Array> {
  if (o.waitUntil === 'networkidle') {
    // 500 ms without requests, at most NETWORK_IDLE_MAX_MS: a page that never goes quiet
    // (analytics beacons, long polls) is captured anyway instead of failing.
    await page
      .waitForNetworkIdle({ idleTime: 500, concurrency: 0, timeout: Math.max(1, Math.min(NETWORK_IDLE_MAX_MS, left(until))) })
      .catch(() => undefined);
  }
  if (o.waitForSelector) {
    await waitVisible(page, o.waitForSelector, until);
  }
  await hideBlockedContent(page, o, engines);
  await addStyles(page, o);
  if (o.hideSelectors.length) {
    // One rule per selector: a selector the browser cannot parse drops only its own rule.
    await injectStyle(page, o.hideSelectors.map((s) => `${s} { visibility: hidden !important; }`).join('\n'));
  }
  await runScripts(page, o, () => left(until));
  await clickElement(page, o);
  await scrollToElement(page, o);
  if (o.delay > 0) await sleep(Math.min(o.delay, left(until)));
  await settleAnimations(page, o);
  if (o.deterministic) await stillForCapture(page, o.fullPage, left(until) - 250);

  if (o.format === 'pdf') return printPdf(page, o.pdf, until);
  const encoding = { type: o.format, quality: effectiveQuality(o), optimizeForSpeed: true, omitBackground: o.omitBackground } as const;
  if (o.selector) {
    const element = await page.$(o.selector).catch((error: Error) => {
      if (NAVIGATED_AWAY.test(error.message)) throw error;
      throw new PermanentFailure(
        'invalid_selector',
        `selector ${JSON.stringify(o.selector)} is not a valid CSS selector (${error.message.split('\n')[0]})`,
      );
    });
    const box = await element?.boundingBox();
    if (!element || !box || box.width < 1 || box.height < 1) {
      throw new PermanentFailure('selector_not_found', `no visible element matches selector ${JSON.stringify(o.selector)}`);
    }
    // The element's image stays inside the pixel budget too: cut to it, as a full page is.
    const dsf = o.deviceScaleFactor;
    const width = Math.min(box.width, Math.floor(LIMITS.maxCaptureSide / dsf));
    const height = Math.min(box.height, Math.floor(maxImageHeight(width * dsf) / dsf));
    // The box is in viewport coordinates: the capture takes page coordinates (beyond the viewport).
    const scroll = (await page.evaluate('({ x: window.scrollX, y: window.scrollY })')) as { x: number; y: number };
    await element.dispose().catch(() => undefined);
    return captureImage(page, encoding, until, { x: box.x + scroll.x, y: box.y + scroll.y, width, height });
  }
  if (o.clip) {
    // Page coordinates, beyond the viewport if need be.
    return captureImage(page, encoding, until, o.clip);
  }
  if (o.fullPage) {
    // Pages taller than one capture are captured in slices and stitched (lib/capture/stitch.ts).
    const maxCss = Math.floor(fullPageMaxImageHeight(o) / o.deviceScaleFactor);
    const pageHeight = await scrollThrough(page, maxCss, until);
    if (pageHeight > maxCss) seen.truncated = true;
    return captureFullPage(page, o.width, Math.min(pageHeight, maxCss), o.deviceScaleFactor, encoding, until);
  }
  return captureImage(page, encoding, until);
}

/** Full-page scroll cap and the bound on networkidle (see docs/api.md, "fullPage" and "waitUntil"). */
const NETWORK_IDLE_MAX_MS = 10_000;
const left = (until: number) => Math.max(0, until - Date.now());

async function waitVisible(page: Page, selector: string, until: number): Promise<void> {
  // Polling an unparsable selector would only time out: it is tried once first, to name the mistake.
  await page.evaluate(`document.querySelector(${JSON.stringify(selector)}), undefined`).catch((error: Error) => {
    if (NAVIGATED_AWAY.test(error.message)) throw error;
    throw new PermanentFailure(
      'invalid_selector',
      `waitForSelector ${JSON.stringify(selector)} is not a valid CSS selector (${error.message.split('\n')[0]})`,
    );
  });
  try {
    await page.waitForSelector(selector, { visible: true, timeout: Math.max(1, left(until) - 250) });
  } catch (error) {
    const message = (error as Error).message;
    if (/not a valid selector|SyntaxError/i.test(message)) {
      throw new PermanentFailure('invalid_selector', `waitForSelector ${JSON.stringify(selector)} is not a valid CSS selector`);
    }
    if ((error as Error).name === 'TimeoutError') {
      throw new PermanentFailure(
        'selector_timeout',
        `no element matching waitForSelector ${JSON.stringify(selector)} became visible before the render deadline`,
      );
    }
    throw error;
  }
}

/**
 * Scrolls the page down a viewport at a time (so lazy images and infinite lists load), up to
 * `maxCss` CSS px, back to the top, and answers the page's whole height (which may exceed `maxCss`).
 */
async function scrollThrough(page: Page, maxCss: number, until: number): Promise<number> {
  // (Expressions as strings: this project compiles without the DOM's types.)
  const scrollHeight = () =>
    page.evaluate('Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)') as Promise<number>;
  let y = 0;
  while (y < Math.min(await scrollHeight(), maxCss) && left(until) > 1000) {
    y += (await page.evaluate('window.scrollBy(0, window.innerHeight), window.innerHeight')) as number;
    await sleep(100); // an IntersectionObserver fires on the next frames
  }
  await page.evaluate('window.scrollTo(0, 0)');
  // Images that started loading on the way down get a bounded moment to finish.
  await page
    .waitForNetworkIdle({ idleTime: 200, concurrency: 0, timeout: Math.max(1, Math.min(3000, left(until) - 500)) })
    .catch(() => undefined);
  return Math.max(1, await scrollHeight());
}

async function bounded<T>(work: Promise<T>, ms: number, onExpire: () => void): Promise<T> {
  let handle: NodeJS.Timeout | undefined;
  work.catch(() => undefined); // once expired, its late rejection (browser killed) is expected
  const expired = new Promise<never>((_, reject) => {
    handle = setTimeout(() => {
      onExpire();
      reject(new TransientFailure('browser_crashed', `the browser did not open a page within ${ms} ms; it was restarted`));
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(handle);
  }
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
  // Single-process Chromium runs every page on one renderer thread: a page that outlived its
  // deadline (often a JS loop) leaves the whole browser wedged even when close() answers, so the
  // next newPage() would hang. Only a fresh browser helps (docs/tuning.md, single-process).
  if (timedOut && browsers.singleProcess) {
    browsers.kill('render timed out in single-process mode');
    return;
  }
  const closing = (context ? context.close() : page.close()).then(
    () => true,
    () => true,
  );
  const grace = new Promise<boolean>((r) => setTimeout(() => r(false), timedOut ? CLOSE_GRACE_MS : CLOSE_GRACE_MS * 5).unref());
  // A page stuck in a JS loop can wedge close(); only killing the browser frees it.
  if (!(await Promise.race([closing, grace]))) browsers.kill();
}
