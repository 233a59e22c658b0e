// How the request's identity and interaction fields take effect on a page, one small helper per
// concern, so lib/capture/render.ts keeps its straight flow. Nothing here widens what a page may do:
// every request still goes through the egress proxy; headers and credentials are handed only to
// requests of the page's own origin, cookies only to the page's host (or the parent domain the
// caller named, checked by lib/contract/request.ts); injected scripts run in the page's own world with the
// page's own rights (no CSP bypass, no exposed functions, no user gesture).
import type { CDPSession, CookieParam, ElementHandle, Page, Viewport } from 'puppeteer-core';
import { type DomFacts, type Engines, hidingCss } from './blocking.js';
import { devicePreset } from '../contract/devices.js';
import { PermanentFailure } from '../contract/failures.js';
import type { ScreenshotOptions } from '../contract/request.js';

/** The viewport: the explicit fields (already filled from the device by lib/contract/request.ts) plus the device's kind. */
export function viewportFor(o: ScreenshotOptions): Viewport {
  const device = o.device ? devicePreset(o.device) : undefined;
  return {
    width: o.width,
    height: o.height,
    deviceScaleFactor: o.deviceScaleFactor,
    isMobile: device?.isMobile ?? false,
    hasTouch: device?.hasTouch ?? false,
    isLandscape: device?.isLandscape ?? false,
  };
}

/** Colour scheme and reduced motion in one DevTools call (it replaces every earlier emulated feature); none for a default request. */
export async function emulateMedia(page: Page, o: ScreenshotOptions): Promise<void> {
  const features = [
    ...(o.darkMode ? [{ name: 'prefers-color-scheme', value: 'dark' }] : []),
    // deterministic asked for reduced motion already (lib/capture/deterministic.ts): a second call replaces the first.
    ...(o.disableAnimations || o.deterministic ? [{ name: 'prefers-reduced-motion', value: 'reduce' }] : []),
  ];
  if (features.length) await page.emulateMediaFeatures(features);
}

/**
 * Who the browser says it is, set before navigation: user agent and language (one override:
 * Accept-Language and navigator.language come from it), the Intl locale and the time zone.
 */
export async function emulateIdentity(page: Page, o: ScreenshotOptions): Promise<void> {
  if (o.userAgent === undefined && o.locale === undefined && o.timezone === undefined) return;
  const session = await page.createCDPSession();
  if (o.userAgent !== undefined || o.locale !== undefined) {
    const userAgent = o.userAgent ?? (await page.browser().userAgent());
    await session.send('Network.setUserAgentOverride', { userAgent, ...(o.locale ? { acceptLanguage: o.locale } : {}) });
  }
  if (o.locale) await session.send('Emulation.setLocaleOverride', { locale: o.locale });
  if (o.timezone) {
    await page.emulateTimezone(o.timezone).catch((error: Error) => {
      throw new PermanentFailure(
        'invalid_options',
        `timezone ${JSON.stringify(o.timezone)} is not known to the browser (${error.message.split('\n')[0]})`,
      );
    });
  }
}

/** Cookies for the page's host (host-only when no domain was given), set before navigation. */
export async function setCookies(page: Page, o: ScreenshotOptions, pageUrl: string): Promise<void> {
  if (!o.cookies?.length) return;
  await page.setCookie(...cookieParams(o, pageUrl));
}

function cookieParams(o: ScreenshotOptions, pageUrl: string): CookieParam[] {
  return (o.cookies ?? []).map(({ domain, path, ...cookie }) => ({
    ...cookie,
    path: path ?? '/',
    // Without a domain the cookie is bound to the page's exact host, like a Set-Cookie without Domain.
    ...(domain ? { domain } : { url: pageUrl }),
  }));
}

/**
 * Extra headers and HTTP authentication, for the page's own origin only. A DevTools Fetch
 * interception whose pattern matches only that origin pauses its requests (and only those): each
 * gets the headers added, and only its challenges are answered (never the proxy's). Redirects to
 * another origin, sub-resources of other origins and pop-ups get nothing.
 */
export async function authoriseOrigin(page: Page, o: ScreenshotOptions, pageUrl: string): Promise<void> {
  const headers = Object.entries(o.headers ?? {});
  if (!headers.length && !o.authentication) return;
  const origin = new URL(pageUrl).origin;
  const ownOrigin = (url: string) => {
    try {
      return new URL(url).origin === origin;
    } catch {
      return false;
    }
  };
  const session: CDPSession = await page.createCDPSession();
  session.on('Fetch.requestPaused', (event: { requestId: string; request: { url: string; headers: Record<string, string> } }) => {
    const send = ownOrigin(event.request.url)
      ? session.send('Fetch.continueRequest', { requestId: event.requestId, headers: mergeHeaders(event.request.headers, headers) })
      : session.send('Fetch.continueRequest', { requestId: event.requestId });
    send.catch(() => undefined); // the page may be gone
  });
  session.on(
    'Fetch.authRequired',
    (event: { requestId: string; request: { url: string }; authChallenge: { source?: 'Server' | 'Proxy'; origin: string } }) => {
      const answer =
        o.authentication && event.authChallenge.source !== 'Proxy' && ownOrigin(event.request.url)
          ? { response: 'ProvideCredentials' as const, username: o.authentication.username, password: o.authentication.password }
          : { response: 'CancelAuth' as const };
      session.send('Fetch.continueWithAuth', { requestId: event.requestId, authChallengeResponse: answer }).catch(() => undefined);
    },
  );
  await session.send('Fetch.enable', {
    patterns: [{ urlPattern: `${escapePattern(origin)}/*`, requestStage: 'Request' }],
    handleAuthRequests: o.authentication !== undefined,
  });
}

/** Fetch patterns treat * and ? as wildcards and \ as their escape. */
const escapePattern = (s: string) => s.replace(/[\\*?]/g, (c) => `\\${c}`);

function mergeHeaders(original: Record<string, string>, extra: [string, string][]): { name: string; value: string }[] {
  const names = new Set(extra.map(([name]) => name.toLowerCase()));
  return [
    ...Object.entries(original)
      .filter(([name]) => !names.has(name.toLowerCase()))
      .map(([name, value]) => ({ name, value })),
    ...extra.map(([name, value]) => ({ name, value })),
  ];
}

/** How long an injected style's `@import`s may take to load before the capture goes on without them. */
const STYLE_LOAD_MS = 5000;

/**
 * A <style> element with `css`, appended as a page's own would be, and waited for until its
 * `@import`s have loaded or failed (at most STYLE_LOAD_MS). A failed import is what it is in a
 * browser: the rest of the sheet applies and the page renders. (puppeteer's addStyleTag() throws
 * "Could not load style" on it, which failed the job as if the service had.)
 */
export async function injectStyle(page: Page, css: string): Promise<void> {
  await page.evaluate(`new Promise((resolve) => {
    const style = document.createElement('style');
    style.textContent = ${JSON.stringify(css)};
    style.onload = style.onerror = () => resolve(undefined);
    setTimeout(resolve, ${STYLE_LOAD_MS});
    (document.head || document.documentElement).appendChild(style);
  })`);
}

/** The caller's styles, and for disableAnimations the rule that turns transitions off. */
export async function addStyles(page: Page, o: ScreenshotOptions): Promise<void> {
  for (const content of o.styles) await injectStyle(page, content);
  if (o.disableAnimations) {
    await injectStyle(
      page,
      '*, *::before, *::after { transition: none !important; caret-color: transparent !important; scroll-behavior: auto !important; }',
    );
  }
}

/** The ids, classes and link targets of the document (generic cosmetic rules are indexed by them), bounded. */
const DOM_FACTS = `(() => {
  const ids = new Set(), classes = new Set(), hrefs = new Set();
  for (const e of document.querySelectorAll('[id],[class],a[href]')) {
    if (e.id) ids.add(e.id);
    if (e.classList) for (const c of e.classList) classes.add(c);
    if (e.tagName === 'A' && e.getAttribute('href')) hrefs.add(e.getAttribute('href'));
    if (ids.size + classes.size + hrefs.size > ${20_000}) break;
  }
  return { ids: [...ids], classes: [...classes], hrefs: [...hrefs] };
})()`;

/**
 * blockAds and blockCookieBanners, just before the capture: the lists' cosmetic rules for this page
 * and the ad-slot selectors (lib/capture/blocking.ts) hide what they name (display: none, no empty box).
 */
export async function hideBlockedContent(page: Page, o: ScreenshotOptions, engines: Engines | undefined): Promise<void> {
  if (!engines || !(o.blockAds || o.blockCookieBanners)) return;
  const dom = (await page.evaluate(DOM_FACTS)) as DomFacts;
  const css = hidingCss(o, page.url(), dom, engines);
  if (css) await injectStyle(page, css);
}

/**
 * Runs the caller's scripts one after the other in the page's main world, as the page's own
 * scripts run. A promise as a script's value is awaited; an exception, a rejection or not
 * settling before the render deadline fails the job `script_error`.
 */
export async function runScripts(page: Page, o: ScreenshotOptions, msLeft: () => number): Promise<void> {
  for (const [i, script] of o.scripts.entries()) {
    const name = o.scripts.length > 1 ? `scripts[${i}]` : 'scripts[0]';
    let timer: NodeJS.Timeout | undefined;
    const budget = Math.max(1, msLeft() - 250);
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new PermanentFailure('script_error', `${name} did not finish before the render deadline (${budget} ms left)`)),
        budget,
      );
    });
    const run = page.evaluateHandle(script).then(
      (handle) => handle.dispose(),
      (error: unknown) => {
        throw scriptFailure(name, error);
      },
    );
    run.catch(() => undefined); // after the deadline its rejection is expected
    try {
      await Promise.race([run, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function scriptFailure(name: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  // A page that is gone is the browser's failure, not the script's.
  if (/Target closed|Session closed|detached|Execution context was destroyed/i.test(message)) return error as Error;
  return new PermanentFailure('script_error', `${name} threw: ${message.split('\n')[0]!.slice(0, 500)}`);
}

/** The first element matching `selector`, or a permanent failure naming the field. */
async function element(page: Page, field: 'click' | 'scrollTo', selector: string): Promise<ElementHandle> {
  const found = await page.$(selector).catch((error: Error) => {
    throw new PermanentFailure(
      'invalid_selector',
      `${field} ${JSON.stringify(selector)} is not a valid CSS selector (${error.message.split('\n')[0]})`,
    );
  });
  if (!found) throw new PermanentFailure('selector_not_found', `no element matches ${field} ${JSON.stringify(selector)}`);
  return found;
}

/** click: the element is scrolled into view and clicked in its middle, as a user would. */
export async function clickElement(page: Page, o: ScreenshotOptions): Promise<void> {
  if (!o.click) return;
  const target = await element(page, 'click', o.click);
  try {
    await target.click();
  } catch (error) {
    throw new PermanentFailure(
      'selector_not_found',
      `the element matching click ${JSON.stringify(o.click)} cannot be clicked (${(error as Error).message.split('\n')[0]})`,
    );
  } finally {
    await target.dispose().catch(() => undefined);
  }
  await nextFrames(page);
}

/** scrollTo: the element's top at the top of the viewport (or as near as the page allows). */
export async function scrollToElement(page: Page, o: ScreenshotOptions): Promise<void> {
  if (!o.scrollTo) return;
  const target = await element(page, 'scrollTo', o.scrollTo);
  await target.evaluate((e) =>
    (e as unknown as { scrollIntoView(o: object): void }).scrollIntoView({ block: 'start', inline: 'nearest', behavior: 'instant' }),
  );
  await target.dispose().catch(() => undefined);
  await nextFrames(page);
}

/**
 * disableAnimations, just before the capture: every running animation that ends is finished
 * (its end state shows), every endless one cancelled (its unanimated state shows).
 */
export async function settleAnimations(page: Page, o: ScreenshotOptions): Promise<void> {
  if (!o.disableAnimations) return;
  await page.evaluate(`for (const a of document.getAnimations()) {
    const end = a.effect && a.effect.getComputedTiming().endTime;
    try { if (Number.isFinite(end)) a.finish(); else a.cancel(); } catch { a.cancel(); }
  }`);
  await nextFrames(page);
}

/** Two animation frames: what a click or a scroll changed has been painted. */
const nextFrames = (page: Page) =>
  page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(undefined))))').catch(() => undefined);
