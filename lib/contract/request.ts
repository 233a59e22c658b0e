// The screenshot request: one schema for API validation, the job message, the OpenAPI document
// and the field table in docs/api.md (`npm run docs:fields`). Every message says which field is wrong and what its bounds are.
import { z } from 'zod';
import { pdfOptionsSchema, refusePdfMismatches } from './pdf-options.js';
import type { Problem } from './problem.js';
import { devicePreset } from './devices.js';
import { EXTRACT_KINDS, QUALITY_FLAGS } from './findings.js';
import { LIMITS, VIEWPORT } from './limits.js';

// The bounds live in ./limits.ts (lib/contract/devices.ts needs them without this schema).
export { LIMITS, VIEWPORT };
import { type EgressAllowList, MAX_URL_LENGTH, refuseUnsafeUrl } from '../egress/url-policy.js';

/**
 * Request headers a caller may not set: the ones that frame the HTTP message or its hop (a wrong
 * value would corrupt the request or the proxy's view of it), cookies (the `cookies` field scopes
 * them properly) and the service's own x-url2png-* names.
 */
const REFUSED_HEADERS = new Set([
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'cookie',
  'cookie2',
]);
const refusedHeader = (name: string) => REFUSED_HEADERS.has(name) || name.startsWith('proxy-') || name.startsWith('x-url2png-');
/** RFC 9110 token characters: what a header name and a cookie name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible characters, spaces and tabs: no CR/LF (header injection), no NUL. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\uffff]*$/;
const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

const FORMATS = ['png', 'jpeg', 'webp', 'pdf'] as const;
const WAIT_UNTIL = ['load', 'domcontentloaded', 'networkidle'] as const;
export type ImageFormat = (typeof FORMATS)[number];

const bounded = (name: string, b: { min: number; max: number; default: number }, int = true) => {
  const range = `${name} must be ${int ? 'a whole number' : 'a number'} from ${b.min} to ${b.max}`;
  const n = z.number({ error: range });
  return (int ? n.int({ error: range }) : n)
    .min(b.min, { error: `${name} must be at least ${b.min} (allowed: ${b.min} to ${b.max})` })
    .max(b.max, { error: `${name} must be at most ${b.max} (allowed: ${b.min} to ${b.max})` })
    .default(b.default);
};

/** An option that is off unless the client sets it to true. */
const flag = (name: string) => z.boolean({ error: `${name} must be true or false` }).default(false);

const selector = (name: string) =>
  z
    .string({ error: `${name} must be a CSS selector string, e.g. "#main"` })
    .trim()
    .min(1, { error: `${name} must not be empty` })
    .max(LIMITS.selectorLength, { error: `${name} must be at most ${LIMITS.selectorLength} characters` });

function injections(name: string, language: string) {
  return z
    .array(
      z.string({ error: `${name} must be an array of ${language} strings` }).min(1, { error: `${name}[] must not be empty strings` }),
      {
        error: `${name} must be an array of ${language} strings`,
      },
    )
    .max(LIMITS.injections, { error: `${name} must have at most ${LIMITS.injections} entries` })
    .refine((list) => list.reduce((n, s) => n + utf8Bytes(s), 0) <= LIMITS.injectionBytes, {
      error: `${name} must be at most ${LIMITS.injectionBytes / 1024} KB in all`,
    })
    .default([]);
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return /^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name);
  } catch {
    return false;
  }
}

function isLocale(tag: string): boolean {
  try {
    return Intl.getCanonicalLocales(tag).length === 1;
  } catch {
    return false;
  }
}

const oneOf = <T extends readonly [string, ...string[]]>(name: string, values: T, fallback: T[number]) =>
  z.enum(values, { error: `${name} must be one of ${values.map((v) => `"${v}"`).join(', ')}` }).default(fallback as never);

/** A list of distinct names out of `values`; empty by default. */
const namesOf = <T extends readonly [string, ...string[]]>(name: string, values: T) => {
  const allowed = `${name} must be an array of ${values.map((v) => `"${v}"`).join(', ')}`;
  return z
    .array(z.enum(values, { error: allowed }), { error: allowed })
    .refine((list) => new Set(list).size === list.length, { error: `${name} must not name an entry twice` })
    .default([]);
};

const optionsShape = {
  width: bounded('width', VIEWPORT.width).describe('Viewport width in CSS pixels'),
  height: bounded('height', VIEWPORT.height).describe('Viewport height in CSS pixels'),
  deviceScaleFactor: bounded('deviceScaleFactor', LIMITS.deviceScaleFactor, false).describe(
    'Pixel density: the image is width x deviceScaleFactor pixels wide',
  ),
  fullPage: flag('fullPage').describe(
    `Capture the whole scroll height instead of the viewport. The page is scrolled to the bottom first so lazy content loads; pages taller than one capture are captured in slices and stitched. The image is cut (and the status says truncated: true) past ${LIMITS.fullPageMaxHeight} image pixels tall or ${LIMITS.maxImagePixels / 1_000_000} megapixels in all (width x height x deviceScaleFactor squared), and for webp past 16383 pixels`,
  ),
  format: oneOf('format', FORMATS, 'png').describe('Image format; "pdf" prints the page to a PDF (see pdf)'),
  pdf: pdfOptionsSchema.optional(),
  quality: z
    .number({ error: `quality must be a whole number from ${LIMITS.quality.min} to ${LIMITS.quality.max}` })
    .int({ error: `quality must be a whole number from ${LIMITS.quality.min} to ${LIMITS.quality.max}` })
    .min(LIMITS.quality.min, {
      error: `quality must be at least ${LIMITS.quality.min} (allowed: ${LIMITS.quality.min} to ${LIMITS.quality.max})`,
    })
    .max(LIMITS.quality.max, {
      error: `quality must be at most ${LIMITS.quality.max} (allowed: ${LIMITS.quality.min} to ${LIMITS.quality.max})`,
    })
    .optional()
    .meta({ default: LIMITS.quality.default })
    .describe('Compression quality for jpeg and webp (default 80); not allowed with png'),
  waitUntil: oneOf('waitUntil', WAIT_UNTIL, 'load').describe(
    'When navigation counts as finished; networkidle waits for 500 ms without requests, at most 10 s',
  ),
  delay: bounded('delay', LIMITS.delay).describe('Extra wait in ms after the page has loaded'),
  waitForSelector: selector('waitForSelector').optional().describe('Wait until an element matching this selector is visible'),
  selector: selector('selector').optional().describe('Capture only the box of the first element matching this selector'),
  darkMode: flag('darkMode').describe('Render with prefers-color-scheme: dark'),
  hideSelectors: z
    .array(selector('hideSelectors[]'), { error: 'hideSelectors must be an array of CSS selector strings' })
    .max(LIMITS.hideSelectors, { error: `hideSelectors must have at most ${LIMITS.hideSelectors} selectors` })
    .default([])
    .describe('Elements hidden (visibility: hidden) before the capture'),
  cache: z
    .union(
      [
        z.boolean(),
        z
          .number()
          .int()
          .min(LIMITS.cacheTtl.min, {
            error: `cache must be true, false or a whole number of seconds from ${LIMITS.cacheTtl.min} to ${LIMITS.cacheTtl.max}`,
          })
          .max(LIMITS.cacheTtl.max, {
            error: `cache must be true, false or a whole number of seconds from ${LIMITS.cacheTtl.min} to ${LIMITS.cacheTtl.max}`,
          }),
      ],
      { error: `cache must be true, false or a whole number of seconds from ${LIMITS.cacheTtl.min} to ${LIMITS.cacheTtl.max}` },
    )
    .default(false)
    .describe(
      `Reuse an identical earlier result: true accepts one up to ${LIMITS.cacheTtl.default} s old, a number sets that age in seconds`,
    ),
  callbackUrl: z
    .string({ error: 'callbackUrl must be an http or https URL' })
    .min(1, { error: 'callbackUrl must not be empty' })
    .max(MAX_URL_LENGTH, { error: `callbackUrl must be at most ${MAX_URL_LENGTH} characters` })
    .optional()
    .describe('Webhook: POSTed a signed { id, status, imageUrl?, error? } when the job settles'),
  headers: z
    .record(
      z.string(),
      z
        .string({ error: 'headers values must be strings, e.g. {"x-team": "docs"}' })
        .max(LIMITS.headerValueLength, { error: `headers values must be at most ${LIMITS.headerValueLength} characters` })
        .regex(FIELD_VALUE, { error: 'headers values must not contain line breaks or control characters' }),
      { error: 'headers must be an object of header names to string values, e.g. {"x-team": "docs"}' },
    )
    .superRefine((headers, ctx) => {
      const names = Object.keys(headers);
      if (names.length > LIMITS.headers) ctx.addIssue({ code: 'custom', message: `headers must have at most ${LIMITS.headers} entries` });
      for (const name of names) {
        if (!TOKEN.test(name) || name.length > LIMITS.headerNameLength) {
          ctx.addIssue({
            code: 'custom',
            message: `headers: ${JSON.stringify(name.slice(0, 64))} is not a valid header name (letters, digits and !#$%&'*+-.^_\`|~, at most ${LIMITS.headerNameLength})`,
          });
        } else if (refusedHeader(name.toLowerCase())) {
          ctx.addIssue({
            code: 'custom',
            message: `headers: "${name}" cannot be set (host, content-length, connection, transfer-encoding, proxy-*, x-url2png-* and other hop-by-hop headers are refused; use cookies for cookies)`,
          });
        }
      }
    })
    .optional()
    .describe("Extra request headers, sent only to the page's own origin (never to third-party requests)"),
  cookies: z
    .array(
      z.strictObject(
        {
          name: z
            .string({ error: 'cookies[].name must be a string' })
            .regex(TOKEN, { error: "cookies[].name must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)" })
            .max(256, { error: 'cookies[].name must be at most 256 characters' }),
          value: z
            .string({ error: 'cookies[].value must be a string' })
            .max(LIMITS.cookieValueLength, { error: `cookies[].value must be at most ${LIMITS.cookieValueLength} characters` })
            .regex(/^[^;\p{Cc}]*$/u, { error: 'cookies[].value must not contain ";" or control characters' }),
          domain: z
            .string({ error: 'cookies[].domain must be a host name, e.g. "example.com"' })
            .regex(/^\.?[A-Za-z0-9.-]{1,253}$/, { error: 'cookies[].domain must be a host name, e.g. "example.com"' })
            .optional(),
          path: z
            .string({ error: 'cookies[].path must be a string starting with "/"' })
            .regex(/^\/[^;\p{Cc}]{0,1023}$/u, { error: 'cookies[].path must start with "/" (at most 1024 characters, no ";")' })
            .optional(),
          secure: z.boolean({ error: 'cookies[].secure must be true or false' }).optional(),
          httpOnly: z.boolean({ error: 'cookies[].httpOnly must be true or false' }).optional(),
          sameSite: z.enum(['Strict', 'Lax', 'None'], { error: 'cookies[].sameSite must be one of "Strict", "Lax", "None"' }).optional(),
          expires: z
            .number({ error: 'cookies[].expires must be a Unix time in seconds' })
            .int({ error: 'cookies[].expires must be a whole number of seconds (Unix time)' })
            .positive({ error: 'cookies[].expires must be a Unix time in seconds' })
            .optional(),
        },
        { error: 'cookies[] entries must be objects like {"name": "session", "value": "abc"}' },
      ),
      { error: 'cookies must be an array of {name, value, domain?, path?, secure?, httpOnly?, sameSite?, expires?}' },
    )
    .max(LIMITS.cookies, { error: `cookies must have at most ${LIMITS.cookies} entries` })
    .optional()
    .describe("Cookies set before the page loads; domain defaults to the page's host and must be that host or a parent of it"),
  userAgent: z
    .string({ error: 'userAgent must be a string' })
    .min(1, { error: 'userAgent must not be empty' })
    .max(LIMITS.userAgentLength, { error: `userAgent must be at most ${LIMITS.userAgentLength} characters` })
    .regex(/^[\x20-\x7e\x80-\uffff]+$/, { error: 'userAgent must not contain line breaks or control characters' })
    .optional()
    .describe("The User-Agent header and navigator.userAgent (wins over the device's)"),
  authentication: z
    .strictObject(
      {
        username: z
          .string({ error: 'authentication.username must be a string' })
          .min(1, { error: 'authentication.username must not be empty' })
          .max(LIMITS.credentialLength, { error: `authentication.username must be at most ${LIMITS.credentialLength} characters` })
          .regex(/^[^:\p{Cc}]+$/u, { error: 'authentication.username must not contain ":" or control characters' }),
        password: z
          .string({ error: 'authentication.password must be a string' })
          .max(LIMITS.credentialLength, { error: `authentication.password must be at most ${LIMITS.credentialLength} characters` })
          .regex(/^\P{Cc}*$/u, { error: 'authentication.password must not contain control characters' }),
      },
      { error: 'authentication must be {"username": "...", "password": "..."}' },
    )
    .optional()
    .describe("Credentials answered to HTTP Basic/Digest challenges of the page's own origin only"),
  device: z
    .string({ error: 'device must be a device name from GET /devices, e.g. "iPhone 15"' })
    .refine((name) => devicePreset(name) !== undefined, {
      error: 'device must be a device name from GET /devices, e.g. "iPhone 15", "Pixel 5", "iPad Pro landscape"',
    })
    .optional()
    .describe(
      'Emulate a named device (GET /devices): viewport, scale, mobile, touch and user agent; explicit width, height, deviceScaleFactor and userAgent win',
    ),
  timezone: z
    .string({ error: 'timezone must be an IANA time zone name, e.g. "Asia/Tokyo"' })
    .max(64, { error: 'timezone must be an IANA time zone name, e.g. "Asia/Tokyo"' })
    .refine(isTimeZone, { error: 'timezone must be an IANA time zone name, e.g. "Asia/Tokyo" or "Europe/Berlin"' })
    .optional()
    .describe("The page's time zone (IANA name)"),
  locale: z
    .string({ error: 'locale must be a BCP 47 language tag, e.g. "de-DE"' })
    .max(35, { error: 'locale must be a BCP 47 language tag, e.g. "de-DE"' })
    .refine(isLocale, { error: 'locale must be a BCP 47 language tag, e.g. "de-DE" or "ja"' })
    .optional()
    .describe('Accept-Language, navigator.language and the Intl default locale'),
  clip: z
    .strictObject(
      {
        x: z
          .number({ error: 'clip.x must be a number of CSS px from 0' })
          .min(0, { error: 'clip.x must be at least 0' })
          .max(LIMITS.maxCaptureSide, { error: `clip.x must be at most ${LIMITS.maxCaptureSide}` }),
        y: z
          .number({ error: 'clip.y must be a number of CSS px from 0' })
          .min(0, { error: 'clip.y must be at least 0' })
          .max(LIMITS.maxCaptureSide, { error: `clip.y must be at most ${LIMITS.maxCaptureSide}` }),
        width: z
          .number({ error: 'clip.width must be a number of CSS px' })
          .min(1, { error: 'clip.width must be at least 1' })
          .max(VIEWPORT.width.max, { error: `clip.width must be at most ${VIEWPORT.width.max}` }),
        height: z
          .number({ error: 'clip.height must be a number of CSS px' })
          .min(1, { error: 'clip.height must be at least 1' })
          .max(LIMITS.maxCaptureSide, { error: `clip.height must be at most ${LIMITS.maxCaptureSide}` }),
      },
      { error: 'clip must be {"x": 0, "y": 0, "width": 400, "height": 300} in CSS px' },
    )
    .optional()
    .describe('Capture this rectangle of the page (CSS px from the top left of the document); not with selector or fullPage'),
  omitBackground: flag('omitBackground').describe('Transparent background where the page paints none (png and webp)'),
  styles: injections('styles', 'CSS').describe('CSS added to the page before the capture'),
  scripts: injections('scripts', 'JavaScript').describe(
    'JavaScript run in the page after load and before the capture, one after the other; a promise as the value is awaited; an exception fails the job script_error',
  ),
  click: selector('click').optional().describe('Click the first element matching this selector before the capture (after the waits)'),
  scrollTo: selector('scrollTo').optional().describe('Scroll the first element matching this selector into view before the capture'),
  disableAnimations: flag('disableAnimations').describe(
    'CSS animations and transitions off (finished where they end), and prefers-reduced-motion: reduce',
  ),
  failOnHttpError: flag('failOnHttpError').describe(
    "Fail the job http_error when the page's own response is 400 or above (4xx final, 5xx retried); by default error pages are captured",
  ),
  compareTo: z
    .string({ error: 'compareTo must be the id of an earlier screenshot (a UUID)' })
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, {
      error: 'compareTo must be the id of an earlier screenshot (a UUID, as POST /screenshots returned it)',
    })
    .toLowerCase()
    .optional()
    .describe(
      'Id of an earlier done PNG screenshot: the new image is compared with it pixel by pixel, and the done status gets diff { changedPixels, changedRatio, width, height, diffImageUrl }. PNG only',
    ),
  deterministic: flag('deterministic').describe(
    "Make two captures of an unchanged page identical: the page's clock frozen at the job's requestedAt (or now), Math.random seeded, animations, transitions and caret off, scrollbars hidden, fonts and visible images loaded before the capture",
  ),
  blockAds: flag('blockAds').describe(
    'Block requests to ad networks and hide the common ad slots (AdSense, Google Publisher Tag and the like), filled or empty. Off by default: a capture shows the page as a visitor sees it unless asked',
  ),
  blockTrackers: flag('blockTrackers').describe(
    'Block requests to analytics and tracking services, and the pixels and beacons of ad networks. Off by default: some pages need their analytics scripts to render',
  ),
  blockCookieBanners: flag('blockCookieBanners').describe(
    'Answer cookie consent banners with "reject" / "only necessary" (DuckDuckGo autoconsent rules) and hide the known consent managers that remain. Off by default: rejecting changes what the page shows',
  ),
  now: z.iso
    .datetime({ offset: true, error: 'now must be an ISO 8601 date-time, e.g. "2030-01-01T00:00:00Z"' })
    .optional()
    .describe("With deterministic: the time the page sees (Date, Date.now) instead of the job's requestedAt"),
  extract: namesOf('extract', EXTRACT_KINDS).describe(
    'Also take from the same page, after the waits and scripts: metadata (inline in the done status and the webhook), text (visible text), markdown (the main content, via Readability), html (the serialised DOM). Stored beside the image; the done status links it as extractsUrl',
  ),
  qualityFail: namesOf('qualityFail', QUALITY_FLAGS).describe(
    'Fail the job quality_failed (permanent) when one of these quality flags is raised, instead of answering done (docs/quality.md)',
  ),
  qualityChecks: z
    .boolean({ error: 'qualityChecks must be true or false' })
    .default(true)
    .describe(
      "Run the quality checks on the capture and report them as quality in the done status (docs/quality.md). false skips them (about 8 % of a render's CPU) and leaves quality out",
    ),
};

/** `now` sets the frozen clock of a deterministic capture: meaningless without one. */
const nowNeedsDeterministic = (value: { deterministic?: boolean; now?: string }, ctx: z.RefinementCtx) => {
  if (value.now !== undefined && value.deterministic !== true) {
    ctx.addIssue({
      code: 'custom',
      path: ['now'],
      message: 'now sets the clock of a deterministic capture; add "deterministic": true or drop now',
    });
  }
};

/** qualityFail acts on the quality checks' flags: it cannot be asked for with the checks off. */
const qualityFailNeedsChecks = (value: { qualityFail?: readonly string[]; qualityChecks?: boolean }, ctx: z.RefinementCtx) => {
  if (value.qualityChecks === false && (value.qualityFail?.length ?? 0) > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['qualityFail'],
      message: 'qualityFail needs the quality checks; drop qualityFail or drop "qualityChecks": false',
    });
  }
};

/** A diff is taken between lossless images only: jpeg/webp noise would count as change. */
const compareToNeedsPng = (value: { format?: string; compareTo?: string }, ctx: z.RefinementCtx) => {
  if (value.compareTo !== undefined && (value.format ?? 'png') !== 'png') {
    ctx.addIssue({
      code: 'custom',
      path: ['compareTo'],
      message: 'compareTo compares PNG images only; drop compareTo or set format to "png"',
    });
  }
};

type OptionsInput = {
  format?: string;
  quality?: number;
  omitBackground?: boolean;
  clip?: { y?: number; width?: number; height?: number };
  selector?: string;
  fullPage?: boolean;
  width?: number;
  height?: number;
  deviceScaleFactor?: number;
};

/** The viewport (or the clip) in image pixels stays inside the pixel budget. */
const withinPixelBudget = (value: OptionsInput, ctx: z.RefinementCtx) => {
  const dsf = value.deviceScaleFactor ?? LIMITS.deviceScaleFactor.default;
  const area = (w: number, h: number) => Math.round(w * dsf) * Math.round(h * dsf);
  const budget = LIMITS.maxImagePixels.toLocaleString('en-US');
  const viewport = area(value.width ?? VIEWPORT.width.default, value.height ?? VIEWPORT.height.default);
  if (viewport > LIMITS.maxImagePixels) {
    ctx.addIssue({
      code: 'custom',
      path: ['deviceScaleFactor'],
      message: `width x height x deviceScaleFactor² is ${viewport.toLocaleString('en-US')} image pixels, over the budget of ${budget}; lower deviceScaleFactor, width or height`,
    });
  }
  // A capture beyond the viewport is rendered from the top of the page down to the clip's bottom
  // edge: clip.y counts as much as clip.height.
  const clip = value.clip;
  if (clip && typeof clip.width === 'number' && typeof clip.height === 'number') {
    const rendered = area(clip.width, (typeof clip.y === 'number' ? clip.y : 0) + clip.height);
    if (rendered > LIMITS.maxImagePixels) {
      ctx.addIssue({
        code: 'custom',
        path: ['clip'],
        message: `clip width x (y + height) x deviceScaleFactor² is ${rendered.toLocaleString('en-US')} image pixels (the page is rendered from its top to the clip's bottom), over the budget of ${budget}; clip a smaller area, nearer the top, or lower deviceScaleFactor`,
      });
    }
  }
};
/** Rules between fields; each message names the fields involved. */
const fieldCombinations = (value: OptionsInput, ctx: z.RefinementCtx) => {
  const format = value.format ?? 'png';
  if (format === 'png' && value.quality !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['quality'],
      message: 'quality applies to jpeg and webp only; drop it or set format to "jpeg" or "webp"',
    });
  }
  if (format === 'jpeg' && value.omitBackground) {
    ctx.addIssue({
      code: 'custom',
      path: ['omitBackground'],
      message: 'omitBackground needs a format with transparency: set format to "png" or "webp", or drop omitBackground',
    });
  }
  if (value.clip !== undefined && (value.selector !== undefined || value.fullPage)) {
    ctx.addIssue({ code: 'custom', path: ['clip'], message: 'clip cannot be combined with selector or fullPage; send only one of them' });
  }
};

export const screenshotOptionsSchema = z
  .strictObject(optionsShape)
  .superRefine(fieldCombinations)
  .superRefine(refusePdfMismatches)
  .superRefine(compareToNeedsPng)
  .superRefine(nowNeedsDeterministic)
  .superRefine(qualityFailNeedsChecks)
  .superRefine(withinPixelBudget);

/** The fields that speak for the page's origin: they need a URL, not an html document. */
const ORIGIN_FIELDS = ['headers', 'cookies', 'authentication', 'failOnHttpError'] as const;

export const screenshotRequestSchema = z
  .strictObject({
    url: z
      .string({ error: 'url must be a string: send {"url": "https://example.com"}' })
      .min(1, { error: 'url must not be empty' })
      .max(MAX_URL_LENGTH, { error: `url must be at most ${MAX_URL_LENGTH} characters` })
      .optional()
      .describe('The page to capture (http or https); exactly one of url and html'),
    html: z
      .string({ error: 'html must be a string holding an HTML document' })
      .min(1, { error: 'html must not be empty' })
      .refine((doc) => utf8Bytes(doc) <= LIMITS.htmlBytes, { error: `html must be at most ${LIMITS.htmlBytes / 1024 / 1024} MB (UTF-8)` })
      .optional()
      .describe(
        'Render this HTML document instead of a URL (up to 1 MB); its sub-resources pass the same egress policy. Exactly one of url and html',
      ),
    ...optionsShape,
  })
  .superRefine(fieldCombinations)
  .superRefine(refusePdfMismatches)
  .superRefine(compareToNeedsPng)
  .superRefine(nowNeedsDeterministic)
  .superRefine(qualityFailNeedsChecks)
  .superRefine(withinPixelBudget)
  .superRefine((value, ctx) => {
    if ((value.url === undefined) === (value.html === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'send exactly one of url and html, e.g. {"url": "https://example.com"} or {"html": "<h1>hi</h1>"}',
      });
    }
    if (value.html !== undefined) {
      for (const field of ORIGIN_FIELDS) {
        if (value[field] !== undefined && value[field] !== false) {
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: `${field} applies to a page loaded from a url; an html document has no origin to send it to`,
          });
        }
      }
    }
  });

export type ScreenshotOptions = z.output<typeof screenshotOptionsSchema>;
/** Options as a caller may write them: every field optional, the schema fills the defaults. */
export type ScreenshotOptionsInput = z.input<typeof screenshotOptionsSchema>;
export type ScreenshotRequest = z.output<typeof screenshotRequestSchema>;

/** POST /batches: at most this many requests in one batch. */
export const MAX_BATCH = 50;

export const REQUEST_FIELDS = ['url', 'html', ...Object.keys(optionsShape)] as const;

export type RequestProblem = Problem & { code: 'invalid_request' | 'url_refused' };

/** Validates a parsed JSON body; the problem's message says what to change. */
export function parseScreenshotRequest(
  body: unknown,
  allow: EgressAllowList,
): { ok: true; request: ScreenshotRequest } | { ok: false; problem: RequestProblem } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('invalid_request', 'the body must be a JSON object like {"url": "https://example.com"}');
  }
  const parsed = screenshotRequestSchema.safeParse(withDevice(body as Record<string, unknown>));
  if (!parsed.success) return fail('invalid_request', describeIssues(parsed.error));
  const request: ScreenshotRequest = { ...parsed.data };
  if (request.url !== undefined) {
    const verdict = refuseUnsafeUrl(request.url, allow);
    if ('refused' in verdict) return fail('url_refused', verdict.refused);
    request.url = verdict.target.url.href;
    const scope = cookieScopeProblem(request.url, request.cookies);
    if (scope) return fail('invalid_request', scope);
  }
  if (request.callbackUrl !== undefined) {
    // The same policy as the browser's: no webhooks into the private network.
    const callback = refuseUnsafeUrl(request.callbackUrl, allow);
    if ('refused' in callback) return fail('url_refused', callback.refused.replace(/^url/, 'callbackUrl'));
    request.callbackUrl = callback.target.url.href;
  }
  return { ok: true, request };
}

/**
 * A named device fills the viewport fields and the user agent the caller left out (explicit
 * fields win), before validation, so the job carries the values the capture uses.
 */
function withDevice<T extends Record<string, unknown>>(body: T): T {
  const preset = typeof body.device === 'string' ? devicePreset(body.device) : undefined;
  if (!preset) return body;
  const { width, height, deviceScaleFactor, userAgent } = preset;
  return { width, height, deviceScaleFactor, userAgent, ...body };
}

/**
 * Cookies go only where the page itself lives: each cookie's domain must be the page's host or a
 * parent domain of it (so a request cannot plant cookies for an unrelated site).
 */
function cookieScopeProblem(pageUrl: string, cookies: ScreenshotOptions['cookies']): string | undefined {
  const host = new URL(pageUrl).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  for (const cookie of cookies ?? []) {
    if (cookie.domain === undefined) continue;
    const domain = cookie.domain.replace(/^\./, '').toLowerCase();
    if (host !== domain && !host.endsWith(`.${domain}`)) {
      return `cookies[].domain "${cookie.domain}" does not cover the page's host ${host}; use the page's host or a parent domain of it, or leave domain out`;
    }
  }
  return undefined;
}

function fail(code: RequestProblem['code'], message: string) {
  return { ok: false as const, problem: { code, message } };
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys' && issue.path.length > 0) {
        return `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} in ${issue.path.join('.')}; see its fields in GET /openapi.json`;
      }
      if (issue.code === 'unrecognized_keys') {
        return `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; allowed fields are ${REQUEST_FIELDS.join(', ')}`;
      }
      return issue.message;
    })
    .join('; ');
}

/** The quality the encoder gets: the default for lossy formats, none for png and pdf. */
export const effectiveQuality = (o: Pick<ScreenshotOptions, 'format' | 'quality'>): number | undefined =>
  o.format === 'jpeg' || o.format === 'webp' ? (o.quality ?? LIMITS.quality.default) : undefined;

/** Cache TTL in seconds, or 0 for no caching. */
export const cacheTtlSeconds = (cache: ScreenshotOptions['cache']): number =>
  cache === true ? LIMITS.cacheTtl.default : cache === false ? 0 : cache;

export const FORMAT_INFO: Record<ImageFormat, { contentType: string; extension: string }> = {
  png: { contentType: 'image/png', extension: 'png' },
  jpeg: { contentType: 'image/jpeg', extension: 'jpg' },
  webp: { contentType: 'image/webp', extension: 'webp' },
  pdf: { contentType: 'application/pdf', extension: 'pdf' },
};
