// What blockAds, blockTrackers and blockCookieBanners remove, decided from lists that ship in npm
// packages (nothing is downloaded at run time): Ghostery's tracker database (@ghostery/trackerdb),
// whose filter text names each rule's category, matched with Ghostery's adblocker engine
// (@ghostery/adblocker). The engine's code is imported and the lists parsed once per process,
// lazily, the first time a job asks for blocking: jobs that do not block never load either (the
// import alone is ~120 KiB of the worker's bundle, paid at every cold start otherwise).
// docs/blocking.md says what each flag covers and how the lists are updated.
import { readFileSync } from 'node:fs';
import type { FiltersEngine, Request, RequestType } from '@ghostery/adblocker';
import { packageFile } from './package-file.js';

export interface BlockingChoice {
  blockAds: boolean;
  blockTrackers: boolean;
  blockCookieBanners: boolean;
}

/** Whether the job asks for network blocking (the page guard then pauses its http(s) requests). */
export const blocksRequests = (o: BlockingChoice): boolean => o.blockAds || o.blockTrackers;

/**
 * Selectors of the common ad slots, hidden (display: none, so no empty box is left) with blockAds.
 * The bundled lists have no generic ad-slot rules: this is the small list the service keeps.
 */
const AD_SLOT_SELECTORS = [
  'ins.adsbygoogle', // AdSense
  'ins[data-ad-client]', // AdSense, any class
  'iframe[id^="aswift_"]', // AdSense's iframes
  'div[id^="div-gpt-ad"]', // Google Publisher Tag slot containers
  'div[data-google-query-id]', // a slot GPT has filled
  'iframe[id^="google_ads_iframe"]', // GPT's iframes
  'iframe[src*="googlesyndication.com"]',
  'iframe[src*="doubleclick.net"]',
  'amp-ad', // AMP ads
  'amp-sticky-ad',
  'div[id^="taboola-"]', // Taboola widgets
  'div.OUTBRAIN', // Outbrain widgets
  'div[id^="amzn-assoc-ad"]', // Amazon Associates
] as const;

/**
 * trackerdb's categories, by flag. A category's `trackerdb_filter` rules are what its services'
 * requests look like; its `trackerdb_domain` lines only say which organisation owns a domain
 * (google.com, adobe.com, auth0.com ...) and are never used to block.
 */
const CATEGORIES = {
  ads: ['advertising', 'pornvertising'],
  analytics: ['site_analytics'],
  consent: ['consent'],
} as const;
type ListName = keyof typeof CATEGORIES;

/**
 * Ad and analytics endpoints that trackerdb lists only as ownership domains, yet that serve nothing
 * but ads or measurement: added as third-party network rules.
 */
const EXTRA_RULES: Record<ListName, string[]> = {
  ads: ['||googlesyndication.com^$3p', '||googleadservices.com^$3p', '||adservice.google.com^$3p'],
  analytics: ['||google-analytics.com^$3p', '||analytics.google.com^$3p'],
  consent: [],
};

/**
 * Ad networks' requests that draw nothing are tracking too: with blockTrackers (without blockAds)
 * an ad rule blocks requests of these types (pixels, beacons, XHR), not the ad scripts and frames.
 */
const PIXEL_TYPES = new Set<RequestType>(['image', 'ping', 'xhr', 'fetch', 'other']);

export interface Engines {
  ads: FiltersEngine;
  analytics: FiltersEngine;
  consent: FiltersEngine;
  /** The engine's request parser, from the same lazily imported module. */
  request: typeof Request.fromRawDetails;
  /** How long reading and parsing the lists took, and the heap they added (for the logs). */
  loadMs: number;
  heapMb: number;
}

/** Splits trackerdb.txt (a `! trackerdb_id:… trackerdb_category:… trackerdb_filter` comment above each rule) by list. */
function splitTrackerDb(text: string): Record<ListName, string[]> {
  const lists: Record<ListName, string[]> = { ads: [], analytics: [], consent: [] };
  const listOf = new Map<string, ListName>(
    Object.entries(CATEGORIES).flatMap(([list, categories]) => categories.map((c) => [c, list as ListName] as const)),
  );
  const lines = text.split('\n');
  for (let i = 0; i < lines.length - 1; i++) {
    const header = /^! trackerdb_id:\S+ trackerdb_category:(\S+) trackerdb_filter\s*$/.exec(lines[i]!);
    const list = header && listOf.get(header[1]!);
    const rule = lines[i + 1]!.trim();
    if (list && rule && !rule.startsWith('!')) lists[list].push(rule);
  }
  return lists;
}

let parsed: Promise<Engines> | undefined;

/** The engines, imported and parsed on first use (about 0.2 s and 10 MB of heap: docs/blocking.md). */
export function blockingEngines(): Promise<Engines> {
  parsed ??= parseEngines().catch((error: unknown) => {
    parsed = undefined; // the next blocking job tries again
    throw error;
  });
  return parsed;
}

async function parseEngines(): Promise<Engines> {
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const { FiltersEngine, Request } = await import('@ghostery/adblocker');
  const lists = splitTrackerDb(readFileSync(packageFile('@ghostery/trackerdb', 'dist/trackerdb.txt'), 'utf8'));
  const engine = (list: ListName) =>
    FiltersEngine.parse([...lists[list], ...EXTRA_RULES[list]].join('\n'), {
      loadNetworkFilters: list !== 'consent',
      loadCosmeticFilters: true,
      loadExtendedSelectors: false,
      enableHtmlFiltering: false,
      enableMutationObserver: false,
    });
  const ads = engine('ads');
  const analytics = engine('analytics');
  const consent = engine('consent');
  return {
    ads,
    analytics,
    consent,
    request: (details) => Request.fromRawDetails(details),
    loadMs: Math.round(performance.now() - started),
    heapMb: Math.round((process.memoryUsage().heapUsed - heapBefore) / 1e5) / 10,
  };
}

/** A paused request as DevTools describes it, and the page it was made for. */
export interface RequestFacts {
  url: string;
  /** DevTools' resource type ("Script", "Image", "Document" ...). */
  resourceType: string;
  /** The page's URL (the top document): decides what counts as third-party. */
  pageUrl: string;
  /** A Document request of a frame other than the main one. */
  subFrame: boolean;
}

/** Which flag blocks this request, if any. The page's own document is never blocked. */
export function blockingReason(o: BlockingChoice, r: RequestFacts, engines: Engines): 'blockAds' | 'blockTrackers' | undefined {
  const type = (r.resourceType === 'Document' ? (r.subFrame ? 'sub_frame' : 'main_frame') : r.resourceType.toLowerCase()) as RequestType;
  if (type === 'main_frame') return undefined;
  const request = engines.request({ url: withoutPort(r.url), sourceUrl: originOf(r.pageUrl), type });
  if (o.blockAds && engines.ads.match(request).match) return 'blockAds';
  if (o.blockTrackers) {
    if (engines.analytics.match(request).match) return 'blockTrackers';
    // (With blockAds on, the ads list has already said no.)
    if (!o.blockAds && PIXEL_TYPES.has(type) && engines.ads.match(request).match) return 'blockTrackers';
  }
  return undefined;
}

/**
 * The lists are written for URLs on default ports (`||facebook.com/tr` does not match
 * `facebook.com:8443/tr`): a port says nothing about who serves the request, so it is left out.
 */
const withoutPort = (url: string) => url.replace(/^(https?:\/\/[^/:?#[\]]+):\d+(?=[/?#]|$)/i, '$1');

/**
 * An html document (about:blank) has no origin of its own: every request it makes counts as
 * third-party, so it is matched as if made from a host nothing else has.
 */
const originOf = (pageUrl: string) => (/^https?:/i.test(pageUrl) ? pageUrl : 'http://html-document.invalid/');

/** What a page's document holds that generic cosmetic rules are indexed by. */
export interface DomFacts {
  classes: string[];
  ids: string[];
  hrefs: string[];
}

/** The CSS that hides what the chosen flags hide on this page: the lists' cosmetic rules for its host and DOM, and the ad slots. */
export function hidingCss(o: BlockingChoice, pageUrl: string, dom: DomFacts, engines: Engines): string {
  const { hostname, domain } = engines.request({ url: originOf(pageUrl) });
  const cosmetic = (engine: FiltersEngine) =>
    engine.getCosmeticsFilters({
      url: pageUrl,
      hostname,
      domain,
      ...dom,
      getBaseRules: true,
      getInjectionRules: false,
      getExtendedRules: false,
      getRulesFromDOM: true,
      getRulesFromHostname: true,
    }).styles;
  return [
    ...(o.blockAds ? [cosmetic(engines.ads), `${AD_SLOT_SELECTORS.join(',\n')} { display: none !important; }`] : []),
    ...(o.blockCookieBanners ? [cosmetic(engines.consent)] : []),
  ]
    .filter((css) => css.trim() !== '')
    .join('\n');
}
