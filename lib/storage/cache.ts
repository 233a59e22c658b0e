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

/**
 * Every option that changes the image, with defaults applied; never cache or callbackUrl. An html
 * request is keyed by its document's digest. Credentials and cookie values enter only hashed.
 */
export function cacheKey(url: string, o: ScreenshotOptions, htmlSha256?: string): string {
  const canonical = {
    url: canonicalUrl(url),
    width: o.width,
    height: o.height,
    deviceScaleFactor: o.deviceScaleFactor,
    fullPage: o.fullPage,
    format: o.format,
    quality: effectiveQuality(o) ?? null,
    waitUntil: o.waitUntil,
    delay: o.delay,
    waitForSelector: o.waitForSelector ?? null,
    selector: o.selector ?? null,
    darkMode: o.darkMode,
    hideSelectors: o.hideSelectors,
    // Only for PDFs, so that the keys of every earlier image request stay what they were.
    ...(o.format === 'pdf' ? { pdf: pdfSettings(o.pdf) } : {}),
    // Likewise only when set: the done status of a compared job carries a diff against that job.
    ...(o.compareTo ? { compareTo: o.compareTo } : {}),
    // A deterministic capture's page sees a fixed clock (now, or its own requestedAt when none).
    ...(o.deterministic ? { deterministic: true, now: o.now ?? null } : {}),
    ...captureControl(o, htmlSha256),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/**
 * The capture-control fields (and an html document's digest), only those set: a request without
 * them keeps the key it had before they existed. Header names are case-insensitive.
 */
function captureControl(o: ScreenshotOptions, htmlSha256: string | undefined): Record<string, unknown> {
  const set: Record<string, unknown> = {
    html: htmlSha256,
    headers:
      o.headers &&
      Object.entries(o.headers)
        .map(([k, v]) => [k.toLowerCase(), v])
        .sort(),
    cookies: o.cookies,
    userAgent: o.userAgent,
    authentication: o.authentication,
    device: o.device,
    timezone: o.timezone,
    locale: o.locale,
    clip: o.clip,
    omitBackground: o.omitBackground || undefined,
    styles: o.styles.length ? o.styles : undefined,
    scripts: o.scripts.length ? o.scripts : undefined,
    click: o.click,
    scrollTo: o.scrollTo,
    disableAnimations: o.disableAnimations || undefined,
    failOnHttpError: o.failOnHttpError || undefined,
    blockAds: o.blockAds || undefined,
    blockTrackers: o.blockTrackers || undefined,
    blockCookieBanners: o.blockCookieBanners || undefined,
  };
  return Object.fromEntries(Object.entries(set).filter(([, v]) => v !== undefined));
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
