// The result cache: a deterministic key from the normalised request, and an index in S3
// (cache/<key>.json) that points at the image of the job that rendered it. The worker writes the
// index when a job asked for caching and is done; the API reads it before queueing a new job.
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { pdfSettings } from '../contract/pdf-options.js';
import { effectiveQuality, type ScreenshotOptions } from '../contract/request.js';
import { readJson, writeJson } from './s3-json.js';

export interface CacheEntry {
  /** The job whose image this is. */
  id: string;
  imageKey: string;
  contentType: string;
  /** When the image was rendered (ISO 8601). */
  renderedAt: string;
}

/**
 * The URL in WHATWG canonical form (scheme and host lower-cased, default port dropped, dot
 * segments resolved, percent-encoding normalised, IDN in punycode), without an empty "#".
 * The query order and the fragment are kept: pages may depend on both.
 */
function canonicalUrl(raw: string): string {
  const url = new URL(raw);
  return url.href.endsWith('#') ? url.href.slice(0, -1) : url.href;
}

/** A field's part of the cache key: its value there (undefined leaves it out), or why it has none. */
type KeyPart = ((o: ScreenshotOptions, htmlSha256: string | undefined) => unknown) | { notInKey: string };

const ifSet = <T>(v: T | undefined): T | undefined => v;
const ifTrue = (v: boolean): true | undefined => v || undefined;
const ifAny = <T>(list: readonly T[]): readonly T[] | undefined => (list.length ? list : undefined);

/**
 * Every request field and its part of the cache key, in the key's order. A field missing here does
 * not compile; tests/unit/cache-key.test.ts sets each field to a value other than its default and
 * requires the key to change, unless the field says why it is not in the key.
 *
 * Fields added after the first release enter only when set (`ifSet`, `ifTrue`, `ifAny`), so a request
 * without them keeps the key it had before they existed. Credentials and cookie values enter only
 * hashed, with the rest. An html request is keyed by its document's digest.
 */
export const CACHE_KEY_FIELDS: Record<keyof ScreenshotOptions | 'html', KeyPart> = {
  width: (o) => o.width,
  height: (o) => o.height,
  deviceScaleFactor: (o) => o.deviceScaleFactor,
  fullPage: (o) => o.fullPage,
  format: (o) => o.format,
  quality: (o) => effectiveQuality(o) ?? null,
  waitUntil: (o) => o.waitUntil,
  delay: (o) => o.delay,
  waitForSelector: (o) => o.waitForSelector ?? null,
  selector: (o) => o.selector ?? null,
  darkMode: (o) => o.darkMode,
  hideSelectors: (o) => o.hideSelectors,
  // Only for PDFs, so that the keys of every earlier image request stay what they were.
  pdf: (o) => (o.format === 'pdf' ? pdfSettings(o.pdf) : undefined),
  // The done status of a compared job carries a diff against that job.
  compareTo: (o) => ifSet(o.compareTo),
  // A deterministic capture's page sees a fixed clock (now, or its own requestedAt when none).
  deterministic: (o) => ifTrue(o.deterministic),
  now: (o) => (o.deterministic ? (o.now ?? null) : undefined),
  html: (_, htmlSha256) => ifSet(htmlSha256),
  // Header names are case-insensitive.
  headers: (o) =>
    o.headers &&
    Object.entries(o.headers)
      .map(([k, v]) => [k.toLowerCase(), v])
      .sort(),
  cookies: (o) => ifSet(o.cookies),
  userAgent: (o) => ifSet(o.userAgent),
  authentication: (o) => ifSet(o.authentication),
  device: (o) => ifSet(o.device),
  timezone: (o) => ifSet(o.timezone),
  locale: (o) => ifSet(o.locale),
  clip: (o) => ifSet(o.clip),
  omitBackground: (o) => ifTrue(o.omitBackground),
  styles: (o) => ifAny(o.styles),
  scripts: (o) => ifAny(o.scripts),
  click: (o) => ifSet(o.click),
  scrollTo: (o) => ifSet(o.scrollTo),
  disableAnimations: (o) => ifTrue(o.disableAnimations),
  failOnHttpError: (o) => ifTrue(o.failOnHttpError),
  blockAds: (o) => ifTrue(o.blockAds),
  blockTrackers: (o) => ifTrue(o.blockTrackers),
  blockCookieBanners: (o) => ifTrue(o.blockCookieBanners),
  // The done status carries what extract asked for; qualityFail decides whether a capture is done at all.
  extract: (o) => ifAny([...o.extract].sort()),
  qualityFail: (o) => ifAny([...o.qualityFail].sort()),
  // Only when off, so that the keys of every earlier request stay what they were.
  qualityChecks: (o) => (o.qualityChecks ? undefined : false),
  cache: { notInKey: 'how old a cached image may be, not what it shows' },
  callbackUrl: { notInKey: 'where the result is announced, not what it shows' },
};

/** SHA-256 over the canonical URL and every field's part (CACHE_KEY_FIELDS), defaults applied. */
export function cacheKey(url: string, o: ScreenshotOptions, htmlSha256?: string): string {
  const canonical: Record<string, unknown> = { url: canonicalUrl(url) };
  for (const [field, part] of Object.entries(CACHE_KEY_FIELDS)) {
    if (typeof part === 'function') canonical[field] = part(o, htmlSha256);
  }
  // JSON.stringify leaves out the undefined parts: a field left out adds nothing to the key.
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

export const cacheIndexKey = (key: string): string => `cache/${key}.json`;

export interface ResultCache {
  get(key: string): Promise<CacheEntry | undefined>;
  put(key: string, entry: CacheEntry): Promise<void>;
}

export class S3ResultCache implements ResultCache {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  get(key: string): Promise<CacheEntry | undefined> {
    return readJson<CacheEntry>(this.s3, this.bucket, cacheIndexKey(key));
  }

  put(key: string, entry: CacheEntry): Promise<void> {
    // The index changes whenever a newer render replaces it: never cached by a client.
    return writeJson(this.s3, this.bucket, cacheIndexKey(key), entry, 'no-cache');
  }
}

/** Whether an entry rendered at `renderedAt` is within a TTL of `ttlSeconds` at `now`. */
export const isFresh = (entry: CacheEntry, ttlSeconds: number, now = new Date()): boolean =>
  ttlSeconds > 0 && now.getTime() - Date.parse(entry.renderedAt) <= ttlSeconds * 1000;
