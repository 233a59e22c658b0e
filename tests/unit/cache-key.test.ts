// The cache key's field registry (CACHE_KEY_FIELDS in lib/storage/cache.ts): every request field
// is in it, and every field set to a value other than its default changes the key, except the
// short list of fields that do not change the image. A field forgotten in the key would make two
// different images share one cache entry.
import { describe, expect, it } from 'vitest';
import {
  REQUEST_FIELDS,
  type ScreenshotOptions,
  type ScreenshotOptionsInput,
  screenshotOptionsSchema,
} from '../../lib/contract/request.js';
import { CACHE_KEY_FIELDS, cacheKey } from '../../lib/storage/cache.js';

const URL = 'https://example.com/';
const parse = (o: ScreenshotOptionsInput): ScreenshotOptions => screenshotOptionsSchema.parse(o);

/** The fields that may not change the key: they change where or when, never what the image shows. */
const NOT_IN_KEY = ['cache', 'callbackUrl'];

/**
 * For every option field: a request where it differs from its default (`value`), on top of `base`
 * when the field needs another one to be valid. A field added to the schema without a row here does
 * not compile.
 */
const VARIANTS: Record<keyof ScreenshotOptions, { base?: ScreenshotOptionsInput; value: ScreenshotOptionsInput }> = {
  width: { value: { width: 1024 } },
  height: { value: { height: 600 } },
  deviceScaleFactor: { value: { deviceScaleFactor: 2 } },
  fullPage: { value: { fullPage: true } },
  format: { value: { format: 'webp' } },
  pdf: { base: { format: 'pdf' }, value: { pdf: { paper: 'Letter' } } },
  quality: { base: { format: 'jpeg' }, value: { quality: 50 } },
  waitUntil: { value: { waitUntil: 'networkidle' } },
  delay: { value: { delay: 100 } },
  waitForSelector: { value: { waitForSelector: '#ready' } },
  selector: { value: { selector: '#main' } },
  darkMode: { value: { darkMode: true } },
  hideSelectors: { value: { hideSelectors: ['.ad'] } },
  cache: { value: { cache: true } },
  callbackUrl: { value: { callbackUrl: 'https://hooks.example.com/x' } },
  headers: { value: { headers: { 'X-Team': 'docs' } } },
  cookies: { value: { cookies: [{ name: 'session', value: 'abc' }] } },
  userAgent: { value: { userAgent: 'url2png-test' } },
  authentication: { value: { authentication: { username: 'u', password: 'p' } } },
  device: { value: { device: 'iPhone 15' } },
  timezone: { value: { timezone: 'Asia/Tokyo' } },
  locale: { value: { locale: 'de-DE' } },
  clip: { value: { clip: { x: 0, y: 0, width: 100, height: 100 } } },
  omitBackground: { value: { omitBackground: true } },
  styles: { value: { styles: ['body { color: red }'] } },
  scripts: { value: { scripts: ['1'] } },
  click: { value: { click: 'button' } },
  scrollTo: { value: { scrollTo: '#pricing' } },
  disableAnimations: { value: { disableAnimations: true } },
  failOnHttpError: { value: { failOnHttpError: true } },
  compareTo: { value: { compareTo: '3f0c7c1e-5d7a-4d57-9d59-2b7f1f0b7a61' } },
  deterministic: { value: { deterministic: true } },
  blockAds: { value: { blockAds: true } },
  blockTrackers: { value: { blockTrackers: true } },
  blockCookieBanners: { value: { blockCookieBanners: true } },
  now: { base: { deterministic: true }, value: { now: '2020-01-01T00:00:00.000Z' } },
  extract: { value: { extract: ['markdown'] } },
  qualityFail: { value: { qualityFail: ['blank'] } },
  qualityChecks: { value: { qualityChecks: false } },
};

describe('the cache key registry', () => {
  it('has an entry for every request field (url is the key itself; html enters as its digest)', () => {
    expect(Object.keys(CACHE_KEY_FIELDS).sort()).toEqual(REQUEST_FIELDS.filter((f) => f !== 'url').sort());
    expect(Object.keys(VARIANTS).sort()).toEqual(REQUEST_FIELDS.filter((f) => f !== 'url' && f !== 'html').sort());
  });

  it(`leaves out only ${NOT_IN_KEY.join(' and ')}, each saying why`, () => {
    const left = Object.entries(CACHE_KEY_FIELDS).filter(([, part]) => typeof part !== 'function');
    expect(left.map(([f]) => f).sort()).toEqual([...NOT_IN_KEY].sort());
    for (const [, part] of left) expect((part as { notInKey: string }).notInKey.length).toBeGreaterThan(10);
  });

  for (const [field, { base = {}, value }] of Object.entries(VARIANTS)) {
    const changes = !NOT_IN_KEY.includes(field);
    it(`${field} set to ${JSON.stringify(value[field as keyof ScreenshotOptionsInput])} ${changes ? 'changes' : 'does not change'} the key`, () => {
      const before = cacheKey(URL, parse(base));
      const after = cacheKey(URL, parse({ ...base, ...value }));
      if (changes) expect(after).not.toBe(before);
      else expect(after).toBe(before);
    });
  }

  it('an html document enters as its digest: another document, another key', () => {
    const o = parse({});
    expect(cacheKey('about:blank', o, 'a'.repeat(64))).not.toBe(cacheKey('about:blank', o, 'b'.repeat(64)));
    expect(cacheKey('about:blank', o, 'a'.repeat(64))).not.toBe(cacheKey('about:blank', o));
  });

  // Credentials: a cached image is only ever handed to a request that sent the same ones.
  it.each([
    ['headers', { headers: { 'X-Team': 'docs' } }, { headers: { 'X-Team': 'ops' } }],
    ['cookies', { cookies: [{ name: 'session', value: 'alice' }] }, { cookies: [{ name: 'session', value: 'bob' }] }],
    ['authentication', { authentication: { username: 'u', password: 'one' } }, { authentication: { username: 'u', password: 'two' } }],
  ] as Array<[string, ScreenshotOptionsInput, ScreenshotOptionsInput]>)('%s: another value (same name) is another key', (_, a, b) => {
    expect(cacheKey(URL, parse(a))).not.toBe(cacheKey(URL, parse(b)));
  });

  it('header names are case-insensitive in the key', () => {
    expect(cacheKey(URL, parse({ headers: { 'X-Team': 'docs' } }))).toBe(cacheKey(URL, parse({ headers: { 'x-team': 'docs' } })));
  });

  it('a request without the later fields keeps its key from before they existed', () => {
    // The key of the default request before CACHE_KEY_FIELDS existed (lib/storage/cache.ts at 95c5d76).
    expect(cacheKey(URL, parse({}))).toBe('4dc880cdfba0cdd7d10ab12770035795a4bee204247edcb8b3c6902afad16a3e');
  });
});
