// Where a page ends up, as a person would see it. Real pages keep moving after `goto` resolves:
// a meta refresh, `location.href = ...` from a timer, history calls, a sub-resource that never
// finishes so `load` never fires, an `alert()` that blocks the parser. This file watches the main
// frame of one page and waits until it has settled (bounded by deadlines), so the capture shows
// the page the browser ended on and never races a navigation.
import { setTimeout as sleep } from 'node:timers/promises';
import type { HTTPResponse, Page } from 'puppeteer-core';
import { TransientFailure } from '../contract/failures.js';

/**
 * A main frame that started no navigation for this long after its last one loaded has settled
 * (a tenth of the render deadline when that is shorter: tests run with deadlines of ~1 s).
 * A page with nothing left that could move it (no request in flight, no timer of its own due within
 * the window, no meta refresh) is settled much sooner, after MIN_QUIET_MS: most pages are at rest
 * when they load, and waiting the whole window for them cost every job ~0.5 s.
 */
const SETTLE_QUIET_MS = 500;
const MIN_QUIET_MS = 50;
export const quietWindowMs = (renderTimeoutMs: number): number => Math.min(SETTLE_QUIET_MS, Math.round(renderTimeoutMs / 10));
/** A `<meta http-equiv="refresh">` due within this many seconds is waited for (longer ones are not). */
const META_REFRESH_MAX_S = 3;
/** A page that navigates more often than this is captured where it is. */
const MAX_HOPS = 10;
const POLL_MS = 25;

export interface PageWatch {
  /** Rejects when the page's renderer crashes (out of memory, a renderer bug). */
  readonly crashed: Promise<never>;
  /** The main frame's latest document response (redirects resolved), if any arrived. */
  lastDocument(): HTTPResponse | undefined;
  /** The latest main-frame navigation, if it failed: its URL and Chrome's error. */
  failedNavigation(): { url: string; errorText: string } | undefined;
  /** Main-frame navigations started so far (the first `goto` included). */
  readonly hops: number;
  /** A main-frame navigation is on its way and has not fired its load event yet. */
  readonly pending: boolean;
  /** Its response has arrived (the new document replaces the old one). */
  readonly committed: boolean;
  /** When the main frame last started or finished a navigation, or changed its URL in place. */
  readonly lastActivityAt: number;
  /** When the latest main-frame navigation started. */
  readonly navigationStartedAt: number;
  /** Requests of any frame that have started and not yet finished or failed. */
  readonly requestsInFlight: number;
  dispose(): void;
}

/**
 * Starts watching a fresh page: call before `goto`. Dialogs (alert, confirm, prompt) are
 * dismissed and `beforeunload` is accepted, so no dialog ever blocks a load or a navigation.
 */
export function watchPage(page: Page, loadEvent: 'load' | 'domcontentloaded'): PageWatch {
  // The main frame as of each event: puppeteer may swap the Frame object on a process change.
  const isMain = (frame: unknown) => frame === page.mainFrame();
  const state = {
    document: undefined as HTTPResponse | undefined,
    failed: undefined as { url: string; errorText: string } | undefined,
    hops: 0,
    pending: false,
    committed: false,
    lastActivityAt: Date.now(),
    navigationStartedAt: Date.now(),
  };
  const touch = () => (state.lastActivityAt = Date.now());
  const inFlight = new Set<unknown>();
  const done = ((request: unknown) => inFlight.delete(request)) as never;
  let crash: (error: Error) => void = () => undefined;
  const crashed = new Promise<never>((_, reject) => (crash = reject));
  crashed.catch(() => undefined);

  const listeners: Array<[string, (...args: never[]) => void]> = [
    [
      'dialog',
      ((dialog: { type(): string; accept(): Promise<void>; dismiss(): Promise<void> }) => {
        void (dialog.type() === 'beforeunload' ? dialog.accept() : dialog.dismiss()).catch(() => undefined);
      }) as never,
    ],
    [
      'request',
      ((request: { isNavigationRequest(): boolean; frame(): unknown; redirectChain(): unknown[] }) => {
        inFlight.add(request);
        if (!request.isNavigationRequest() || !isMain(request.frame())) return;
        // Redirects are the same navigation: only a new one counts as a hop.
        if (request.redirectChain().length === 0) {
          state.hops++;
          state.navigationStartedAt = Date.now();
        }
        state.pending = true;
        state.committed = false;
        state.failed = undefined;
        touch();
      }) as never,
    ],
    [
      'response',
      ((response: HTTPResponse) => {
        const request = response.request();
        if (!request.isNavigationRequest() || !isMain(request.frame())) return;
        const status = response.status();
        if (status >= 300 && status < 400 && response.headers().location) return; // a redirect: more to come
        state.document = response;
        state.committed = true;
        // 204/205 and downloads commit nothing; there will be no load event for them.
        if (status === 204 || status === 205) state.pending = false;
        touch();
      }) as never,
    ],
    [
      'requestfailed',
      ((request: { isNavigationRequest(): boolean; frame(): unknown; url(): string; failure(): { errorText: string } | null }) => {
        inFlight.delete(request);
        if (!request.isNavigationRequest() || !isMain(request.frame())) return;
        // A document that arrived and then broke off (a truncated body) is shown as far as it came:
        // that is the page, not a failed navigation.
        if (!(state.committed && state.document?.request() === request)) {
          state.failed = { url: request.url(), errorText: request.failure()?.errorText ?? 'net::ERR_FAILED' };
        }
        state.pending = false;
        touch();
      }) as never,
    ],
    ['requestfinished', done],
    [
      loadEvent,
      (() => {
        state.pending = false;
        touch();
      }) as never,
    ],
    [
      'framenavigated',
      ((frame: unknown) => {
        if (isMain(frame)) touch(); // includes history.pushState/replaceState
      }) as never,
    ],
    [
      'error',
      ((error: Error) => {
        crash(
          new TransientFailure(
            'page_crashed',
            `the page crashed its renderer (${error.message}); a page that allocates without bound does this`,
          ),
        );
      }) as never,
    ],
  ];
  for (const [event, fn] of listeners) page.on(event as never, fn as never);
  return {
    crashed,
    lastDocument: () => state.document,
    failedNavigation: () => state.failed,
    get hops() {
      return state.hops;
    },
    get pending() {
      return state.pending;
    },
    get committed() {
      return state.committed;
    },
    get lastActivityAt() {
      return state.lastActivityAt;
    },
    get navigationStartedAt() {
      return state.navigationStartedAt;
    },
    get requestsInFlight() {
      return inFlight.size;
    },
    dispose() {
      for (const [event, fn] of listeners) page.off(event as never, fn as never);
    },
  };
}

export interface SettleDeadlines {
  /** The first document may take until here to fire its load event; then it is captured as it stands. */
  loadBy: number;
  /** No waiting for further navigations past here. */
  settleBy: number;
  /** The load allowance of each later navigation, from its start (the page load deadline). */
  loadMs: number;
  /** See quietWindowMs. */
  quietMs: number;
}

/**
 * Navigates and waits until the main frame has loaded: its load event fired (or the load
 * deadline passed with the document committed), including any navigation the page started on
 * the way (redirects, a meta refresh at 0 s, `location.href` while parsing). A first document
 * that has not even committed by the load deadline is waited for until the render deadline ends
 * the job (a server that does not answer may answer next time). Whether the page then stays put
 * is checked around the capture (settledSince).
 */
export async function navigateAndLoad(page: Page, url: string, watch: PageWatch, d: SettleDeadlines): Promise<void> {
  const navigation = page.goto(url, { waitUntil: 'load', timeout: 0 });
  let navigationError: unknown;
  let loaded = false;
  navigation.then(
    () => (loaded = true),
    (error: unknown) => (navigationError = error),
  );

  // The first document: its load event, or the load deadline once it has committed.
  while (!loaded && watch.hops <= 1 && (watch.pending || watch.hops === 0) && navigationError === undefined) {
    if (Date.now() >= d.loadBy && watch.committed) break;
    await sleep(POLL_MS);
  }
  await waitWhileNavigating(watch, d);
  await sleep(0); // a goto rejection that raced the failure event lands first
  throwIfFailed(watch);
  // A goto that failed because the page itself navigated on (ERR_ABORTED) is not a failure.
  if (navigationError !== undefined && watch.hops <= 1 && !watch.committed) throw navigationError;
}

/** Waits out a navigation in flight: until it loads, or its document is committed past the load deadline. */
export async function waitWhileNavigating(watch: PageWatch, d: SettleDeadlines): Promise<void> {
  while (watch.pending && Date.now() < d.settleBy && watch.hops <= MAX_HOPS && !loadOverdue(watch, d)) await sleep(POLL_MS);
}

/** The main frame's last navigation failed (not merely replaced by another): as Chrome said it. */
export function throwIfFailed(watch: PageWatch): void {
  const failed = watch.failedNavigation();
  if (failed && !/ERR_ABORTED/.test(failed.errorText)) throw new Error(`${failed.errorText} at ${failed.url}`);
}

/**
 * Before a capture: does the page stay put? Waits until the main frame has been quiet for
 * `quietMs` (plus a meta refresh due soon), or for MIN_QUIET_MS when nothing is left that could
 * move it (see pendingMoves); true if nothing happened to it since `before` was taken, false if
 * it navigated, changed its URL in place (history.pushState) or finished loading meanwhile
 * (settle and check again). Past settleBy, or after MAX_HOPS navigations, the page is taken where it is.
 */
export async function stayedPut(
  page: Page,
  watch: PageWatch,
  before: { hops: number; activityAt: number },
  d: SettleDeadlines,
): Promise<boolean> {
  let quietMs = d.quietMs;
  for (let first = true; Date.now() < d.settleBy && watch.hops === before.hops; first = false) {
    const quietFor = Date.now() - watch.lastActivityAt;
    if (quietFor >= quietMs) break;
    if (first || quietFor >= MIN_QUIET_MS) {
      const pending = await pendingMoves(page, d.quietMs);
      quietMs = d.quietMs + pending.metaRefreshMs;
      if (quietFor >= MIN_QUIET_MS && pending.known && !pending.soon && watch.requestsInFlight === 0) break;
    }
    await sleep(first ? Math.max(0, MIN_QUIET_MS - quietFor) : POLL_MS);
  }
  const moved = watch.hops !== before.hops || watch.lastActivityAt !== before.activityAt;
  return !moved || watch.hops > MAX_HOPS || Date.now() >= d.settleBy;
}

/** Past its load deadline a committed document is captured as it stands (each navigation gets its own). */
const loadOverdue = (watch: PageWatch, d: SettleDeadlines) =>
  watch.committed && Date.now() >= Math.max(d.loadBy, watch.navigationStartedAt + d.loadMs);

/**
 * What could still move the main frame soon: a meta refresh due within META_REFRESH_MAX_S (its
 * delay), and whether one of the page's own timers (timerProbe) is due within `horizonMs`.
 * `known` is false where the probe is missing (a document it was not installed in): then only the
 * whole quiet window says the page is at rest.
 */
async function pendingMoves(page: Page, horizonMs: number): Promise<{ metaRefreshMs: number; soon: boolean; known: boolean }> {
  // (An expression as a string: this project compiles without the DOM's types.)
  const [content, timers] = (await page
    .evaluate(
      `[(document.querySelector('meta[http-equiv="refresh" i]') || {}).content ?? null, ` +
        `typeof globalThis[Symbol.for('${PROBE_KEY}')] === 'function' ? globalThis[Symbol.for('${PROBE_KEY}')](${horizonMs}) : -1]`,
    )
    .catch(() => [null, -1])) as [string | null, number];
  const seconds = Number.parseFloat(/^\s*([\d.]+)/.exec(content ?? '')?.[1] ?? 'NaN');
  const refresh = Number.isFinite(seconds) && seconds <= META_REFRESH_MAX_S;
  return { metaRefreshMs: refresh ? seconds * 1000 : 0, soon: refresh || timers > 0, known: timers >= 0 };
}

const PROBE_KEY = 'url2png.timersDueWithin';
/** Where timerProbe leaves the page's timer functions as they were before it wrapped them. */
export const UNPROBED_KEY = 'url2png.unprobedTimers';

/**
 * Counts the page's own timers that are due soon, so a page at rest is known to be at rest: it
 * wraps setTimeout/setInterval (and their clear functions) of every document the page opens, and
 * answers "how many are due within `ms`". A timer is what most post-load redirects hang on
 * (`setTimeout(() => location.href = ...)`). It changes nothing a page can rely on: the same ids,
 * the same calls, the same `this`; the wrappers' names and toString read as the originals.
 */
export const timerProbe = `(() => {
  const key = Symbol.for('${PROBE_KEY}');
  if (globalThis[key]) return;
  const due = new Map();
  const now = Performance.prototype.now.bind(performance);
  // The page sees what it would see without the probe: the original's name and source text.
  const likeOriginal = (wrapped, original) => Object.defineProperty(wrapped, 'toString', { value: () => original.toString() });
  const wrapSet = (original, repeat) =>
    likeOriginal({
      [original.name](handler, ms, ...args) {
        const delay = Math.max(0, Number(ms) || 0);
        let id;
        const run = typeof handler === 'function'
          ? function () { if (repeat) due.set(id, now() + delay); else due.delete(id); return handler.apply(this, arguments); }
          : handler;
        id = original.call(this, run, ms, ...args);
        due.set(id, now() + delay);
        return id;
      },
    }[original.name], original);
  const wrapClear = (original) =>
    likeOriginal({ [original.name](id) { due.delete(id); return original.call(this, id); } }[original.name], original);
  // The service's own page scripts (lib/capture/consent.ts) schedule with the originals: their timers are not the page's.
  const { setTimeout, setInterval, clearTimeout, clearInterval } = globalThis;
  Object.defineProperty(globalThis, Symbol.for('${UNPROBED_KEY}'), { value: { setTimeout, setInterval, clearTimeout, clearInterval } });
  globalThis.setTimeout = wrapSet(setTimeout, false);
  globalThis.setInterval = wrapSet(setInterval, true);
  globalThis.clearTimeout = wrapClear(clearTimeout);
  globalThis.clearInterval = wrapClear(clearInterval);
  Object.defineProperty(globalThis, key, {
    value: (within) => {
      const t = now();
      let soon = 0;
      for (const [id, at] of due) {
        if (at < t - 250) due.delete(id); // a string handler that ran (it cannot be wrapped)
        else if (at <= t + within) soon++;
      }
      return soon;
    },
  });
})();`;

/** Errors that mean the page navigated under a DevTools call (the call may simply be repeated). */
export const NAVIGATED_AWAY =
  /Not attached to an active page|Execution context was destroyed|Cannot find context with specified id|Inspected target navigated/i;
