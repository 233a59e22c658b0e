// The browser's share of the egress policy. The proxy sees every http(s)/ws(s) request; requests
// for other schemes never reach it, so the browser refuses them itself: a DevTools Fetch
// interception whose patterns match only those schemes (http traffic is not intercepted, so it
// costs nothing per request). It is enabled once per browser, on the browser target's own session,
// and so covers every page, frame and worker of every context: one session per page cost each job
// a DevTools attach and ~10 ms of CPU. Per page it remembers where the main frame last tried to
// go, so that a navigation the proxy refused inside a CONNECT tunnel (Chrome only says
// ERR_TUNNEL_CONNECTION_FAILED) can be named. A job that blocks ads or trackers (lib/capture/blocking.ts)
// gets a Fetch interception of its own page's http(s) requests, and those the lists name fail as
// BlockedByClient: blocking only removes requests, everything else still goes through the proxy.
// Jobs that block nothing have no such interception, so they pay nothing per request.
import type { Browser, CDPSession, Page } from 'puppeteer-core';
import type { RequestFacts } from './blocking.js';
import type { EgressGuard } from '../egress/egress.js';
import { PermanentFailure, TransientFailure } from '../contract/failures.js';

/** Schemes a page may ask for that would not go through the proxy. data:, blob: and about: stay in the page. */
const REFUSED_SCHEMES = [
  'file',
  'ftp',
  'sftp',
  'gopher',
  'chrome',
  'chrome-extension',
  'chrome-untrusted',
  'chrome-search',
  'devtools',
  'filesystem',
  'view-source',
  'isolated-app',
  'smb',
  'ldap',
] as const;

export interface PageGuard {
  /** Requests of a refused scheme that the page tried (and that failed). */
  readonly refusedRequests: readonly string[];
  /** The URL the main frame last tried to navigate to (redirects included). */
  readonly lastNavigation: string | undefined;
}

const REFUSED = new RegExp(`^(${REFUSED_SCHEMES.join('|')}):`, 'i');

const guardedBrowsers = new WeakMap<Browser, Promise<void>>();

/** Refuses the non-proxied schemes in every page of `browser`; set up once, on its first page. */
function guardBrowser(browser: Browser): Promise<void> {
  let guarded = guardedBrowsers.get(browser);
  if (!guarded) {
    guarded = (async () => {
      const session = await browser.target().createCDPSession();
      session.on('Fetch.requestPaused', (event: { requestId: string }) => {
        session.send('Fetch.failRequest', { requestId: event.requestId, errorReason: 'BlockedByClient' }).catch(() => undefined);
      });
      await session.send('Fetch.enable', {
        patterns: REFUSED_SCHEMES.map((scheme) => ({ urlPattern: `${scheme}:*`, requestStage: 'Request' as const })),
      });
    })();
    guardedBrowsers.set(browser, guarded);
    guarded.catch(() => guardedBrowsers.delete(browser)); // the next page tries again
  }
  return guarded;
}

/** Decides whether a paused http(s) request is blocked (lib/capture/blocking.ts): a truthy answer fails it. */
export type RequestBlocker = (request: RequestFacts) => string | undefined;

interface PausedRequest {
  requestId: string;
  request: { url: string };
  resourceType: string;
  frameId: string;
}

/** Pauses the page's http(s) requests and fails those `block` names. */
async function blockRequests(page: Page, block: RequestBlocker): Promise<void> {
  const session: CDPSession = await page.createCDPSession();
  const mainFrameId = (await session.send('Page.getFrameTree')).frameTree.frame.id;
  session.on('Fetch.requestPaused', (event: PausedRequest) => {
    const { url } = event.request;
    const reason = block({ url, resourceType: event.resourceType, pageUrl: page.url(), subFrame: event.frameId !== mainFrameId });
    const answer = reason
      ? session.send('Fetch.failRequest', { requestId: event.requestId, errorReason: 'BlockedByClient' })
      : session.send('Fetch.continueRequest', { requestId: event.requestId });
    answer.catch(() => undefined); // the page may be gone
  });
  await session.send('Fetch.enable', {
    patterns: ['http:*', 'https:*'].map((urlPattern) => ({ urlPattern, requestStage: 'Request' as const })),
  });
}

export async function guardPage(page: Page, block?: RequestBlocker): Promise<PageGuard> {
  const state: { refusedRequests: string[]; lastNavigation: string | undefined } = {
    refusedRequests: [],
    lastNavigation: undefined,
  };
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) state.lastNavigation = request.url();
  });
  page.on('requestfailed', (request) => {
    if (REFUSED.test(request.url()) && /BLOCKED_BY_CLIENT/.test(request.failure()?.errorText ?? ''))
      state.refusedRequests.push(request.url());
  });
  await guardBrowser(page.browser());
  if (block) await blockRequests(page, block);
  return state;
}

// What Chrome reports when the proxy answered a CONNECT (https, wss) with a refusal.
const TUNNEL_REFUSED = /net::ERR_(TUNNEL_CONNECTION_FAILED|PROXY_CONNECTION_FAILED)/;
// What Chrome reports when a redirect leads to a scheme it will not follow (file:, data: ...).
const SCHEME_REFUSED = /net::ERR_(UNSAFE_REDIRECT|ACCESS_DENIED|DISALLOWED_URL_SCHEME)/;

/**
 * Turns a failed navigation into the reason the policy gives, when the policy is the reason: a
 * refused redirect target is `url_refused` (permanent), a name that does not exist `dns_not_found`.
 * Anything else is rethrown unchanged.
 */
export async function explainNavigationFailure(error: unknown, state: PageGuard, guard: EgressGuard): Promise<never> {
  const message = error instanceof Error ? error.message : String(error);
  const target = state.lastNavigation;
  const scheme = SCHEME_REFUSED.exec(message);
  if (scheme) throw new PermanentFailure('url_refused', `the page led to a scheme or address the policy refuses (net::ERR_${scheme[1]})`);
  if (!TUNNEL_REFUSED.test(message) || !target) throw error;
  const verdict = await guard.checkUrl(target);
  if (verdict.allowed) throw error;
  if (verdict.code === 'dns_unavailable') throw new TransientFailure('page_unreachable', verdict.reason);
  throw new PermanentFailure(verdict.code, `the page was refused by the egress policy: ${verdict.reason}`);
}
