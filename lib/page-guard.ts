// The page's share of the egress policy. The proxy sees every http(s)/ws(s) request; requests for
// other schemes never reach it, so the page refuses them itself: a DevTools Fetch interception whose
// patterns match only those schemes (http traffic is not intercepted, so it costs nothing per
// request). It also remembers where the main frame last tried to go, so that a navigation the proxy
// refused inside a CONNECT tunnel (Chrome only says ERR_TUNNEL_CONNECTION_FAILED) can be named.
import type { CDPSession, Page } from 'puppeteer-core';
import type { EgressGuard } from './egress.js';
import { PermanentFailure, TransientFailure } from './failures.js';

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

export async function guardPage(page: Page): Promise<PageGuard> {
  const state: { refusedRequests: string[]; lastNavigation: string | undefined } = { refusedRequests: [], lastNavigation: undefined };
  const session: CDPSession = await page.createCDPSession();
  session.on('Fetch.requestPaused', (event: { requestId: string; request: { url: string } }) => {
    state.refusedRequests.push(event.request.url);
    session.send('Fetch.failRequest', { requestId: event.requestId, errorReason: 'BlockedByClient' }).catch(() => undefined);
  });
  await session.send('Fetch.enable', {
    patterns: REFUSED_SCHEMES.map((scheme) => ({ urlPattern: `${scheme}:*`, requestStage: 'Request' as const })),
  });
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) state.lastNavigation = request.url();
  });
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
