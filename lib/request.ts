// The screenshot request: one schema for API validation, the job message, the OpenAPI document
// and the README's field table. Every message says which field is wrong and what its bounds are.
import { z } from 'zod';
import { pdfOptionsSchema, refusePdfMismatches } from './pdf.js';
import type { Problem } from './problem.js';
import { type EgressAllowList, MAX_URL_LENGTH, refuseUnsafeUrl } from './url-policy.js';

export const VIEWPORT = {
  width: { min: 320, max: 3840, default: 1280 },
  height: { min: 200, max: 2160, default: 800 },
} as const;

export const LIMITS = {
  deviceScaleFactor: { min: 1, max: 3, default: 1 },
  quality: { min: 1, max: 100, default: 80 },
  delay: { min: 0, max: 10_000, default: 0 },
  /** Cache TTL in seconds; images live 7 days in the bucket (tuning.json imageExpirationDays). */
  cacheTtl: { min: 1, max: 604_800, default: 86_400 },
  selectorLength: 500,
  hideSelectors: 20,
  /** A full-page capture is cut at this many image pixels (CSS px x deviceScaleFactor). */
  fullPageMaxPixels: 16_384,
  /**
   * The pixel budget: no image (viewport, full page or element) has more pixels than this
   * (~200 MB of RGBA while it is encoded). Viewports are refused at the API; full pages and
   * elements, whose size only the page decides, are cut to it.
   */
  maxImagePixels: 50_000_000,
  /** No image side is longer than this many pixels (Chromium's own limit for a capture). */
  maxImageSide: 16_384,
} as const;

/** The tallest image (in image pixels) that fits the pixel budget at this width (in image pixels). */
export const maxImageHeight = (widthPx: number): number =>
  Math.max(1, Math.min(LIMITS.fullPageMaxPixels, Math.floor(LIMITS.maxImagePixels / Math.max(1, widthPx))));

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

const selector = (name: string) =>
  z
    .string({ error: `${name} must be a CSS selector string, e.g. "#main"` })
    .trim()
    .min(1, { error: `${name} must not be empty` })
    .max(LIMITS.selectorLength, { error: `${name} must be at most ${LIMITS.selectorLength} characters` });

const oneOf = <T extends readonly [string, ...string[]]>(name: string, values: T, fallback: T[number]) =>
  z
    .enum(values, { error: `${name} must be one of ${values.map((v) => `"${v}"`).join(', ')}` })
    .default(fallback as never);

const optionsShape = {
  width: bounded('width', VIEWPORT.width).describe('Viewport width in CSS pixels'),
  height: bounded('height', VIEWPORT.height).describe('Viewport height in CSS pixels'),
  deviceScaleFactor: bounded('deviceScaleFactor', LIMITS.deviceScaleFactor, false).describe(
    'Pixel density: the image is width x deviceScaleFactor pixels wide',
  ),
  fullPage: z
    .boolean({ error: 'fullPage must be true or false' })
    .default(false)
    .describe(
      `Capture the whole scroll height instead of the viewport. The page is scrolled to the bottom first so lazy content loads; the image is cut at ${LIMITS.fullPageMaxPixels} pixels tall`,
    ),
  format: oneOf('format', FORMATS, 'png').describe('Image format; "pdf" prints the page to a PDF (see pdf)'),
  pdf: pdfOptionsSchema.optional(),
  quality: z
    .number({ error: `quality must be a whole number from ${LIMITS.quality.min} to ${LIMITS.quality.max}` })
    .int({ error: `quality must be a whole number from ${LIMITS.quality.min} to ${LIMITS.quality.max}` })
    .min(LIMITS.quality.min, { error: `quality must be at least ${LIMITS.quality.min} (allowed: ${LIMITS.quality.min} to ${LIMITS.quality.max})` })
    .max(LIMITS.quality.max, { error: `quality must be at most ${LIMITS.quality.max} (allowed: ${LIMITS.quality.min} to ${LIMITS.quality.max})` })
    .optional()
    .meta({ default: LIMITS.quality.default })
    .describe('Compression quality for jpeg and webp (default 80); not allowed with png'),
  waitUntil: oneOf('waitUntil', WAIT_UNTIL, 'load').describe(
    'When navigation counts as finished; networkidle waits for 500 ms without requests, at most 10 s',
  ),
  delay: bounded('delay', LIMITS.delay).describe('Extra wait in ms after the page has loaded'),
  waitForSelector: selector('waitForSelector').optional().describe('Wait until an element matching this selector is visible'),
  selector: selector('selector').optional().describe("Capture only the box of the first element matching this selector"),
  darkMode: z
    .boolean({ error: 'darkMode must be true or false' })
    .default(false)
    .describe('Render with prefers-color-scheme: dark'),
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
          .min(LIMITS.cacheTtl.min, { error: `cache must be true, false or a whole number of seconds from ${LIMITS.cacheTtl.min} to ${LIMITS.cacheTtl.max}` })
          .max(LIMITS.cacheTtl.max, { error: `cache must be true, false or a whole number of seconds from ${LIMITS.cacheTtl.min} to ${LIMITS.cacheTtl.max}` }),
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
  compareTo: z
    .string({ error: 'compareTo must be the id of an earlier screenshot (a UUID)' })
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, { error: 'compareTo must be the id of an earlier screenshot (a UUID, as POST /screenshots returned it)' })
    .toLowerCase()
    .optional()
    .describe(
      'Id of an earlier done PNG screenshot: the new image is compared with it pixel by pixel, and the done status gets diff { changedPixels, changedRatio, width, height, diffImageUrl }. PNG only',
    ),
  deterministic: z
    .boolean({ error: 'deterministic must be true or false' })
    .default(false)
    .describe(
      "Make two captures of an unchanged page identical: the page's clock frozen at the job's requestedAt (or now), Math.random seeded, animations, transitions and caret off, scrollbars hidden, fonts and visible images loaded before the capture",
    ),
  now: z
    .iso.datetime({ offset: true, error: 'now must be an ISO 8601 date-time, e.g. "2030-01-01T00:00:00Z"' })
    .optional()
    .describe('With deterministic: the time the page sees (Date, Date.now) instead of the job\'s requestedAt'),
};

/** `now` sets the frozen clock of a deterministic capture: meaningless without one. */
const nowNeedsDeterministic = (value: { deterministic?: boolean; now?: string }, ctx: z.RefinementCtx) => {
  if (value.now !== undefined && value.deterministic !== true) {
    ctx.addIssue({ code: 'custom', path: ['now'], message: 'now sets the clock of a deterministic capture; add "deterministic": true or drop now' });
  }
};

/** A diff is taken between lossless images only: jpeg/webp noise would count as change. */
const compareToNeedsPng = (value: { format?: string; compareTo?: string }, ctx: z.RefinementCtx) => {
  if (value.compareTo !== undefined && (value.format ?? 'png') !== 'png') {
    ctx.addIssue({ code: 'custom', path: ['compareTo'], message: 'compareTo compares PNG images only; drop compareTo or set format to "png"' });
  }
};

type OptionsInput = { format?: string; quality?: number; width?: number; height?: number; deviceScaleFactor?: number };

const withinPixelBudget = (value: OptionsInput, ctx: z.RefinementCtx) => {
  const dsf = value.deviceScaleFactor ?? LIMITS.deviceScaleFactor.default;
  const width = value.width ?? VIEWPORT.width.default;
  const height = value.height ?? VIEWPORT.height.default;
  const pixels = Math.round(width * dsf) * Math.round(height * dsf);
  if (pixels > LIMITS.maxImagePixels) {
    ctx.addIssue({
      code: 'custom',
      path: ['deviceScaleFactor'],
      message: `width x height x deviceScaleFactor² is ${pixels.toLocaleString('en-US')} image pixels, over the budget of ${LIMITS.maxImagePixels.toLocaleString('en-US')}; lower deviceScaleFactor, width or height`,
    });
  }
};
const qualityOnlyForLossy = (value: OptionsInput, ctx: z.RefinementCtx) => {
  if ((value.format ?? 'png') === 'png' && value.quality !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['quality'], message: 'quality applies to jpeg and webp only; drop it or set format to "jpeg" or "webp"' });
  }
};

export const screenshotOptionsSchema = z
  .strictObject(optionsShape)
  .superRefine(qualityOnlyForLossy)
  .superRefine(refusePdfMismatches)
  .superRefine(compareToNeedsPng)
  .superRefine(nowNeedsDeterministic)
  .superRefine(withinPixelBudget);

export const screenshotRequestSchema = z
  .strictObject({
    url: z
      .string({ error: 'url is required: send {"url": "https://example.com"}' })
      .min(1, { error: 'url must not be empty' })
      .max(MAX_URL_LENGTH, { error: `url must be at most ${MAX_URL_LENGTH} characters` })
      .describe('The page to capture (http or https)'),
    ...optionsShape,
  })
  .superRefine(qualityOnlyForLossy)
  .superRefine(refusePdfMismatches)
  .superRefine(compareToNeedsPng)
  .superRefine(nowNeedsDeterministic)
  .superRefine(withinPixelBudget);

export type ScreenshotOptions = z.output<typeof screenshotOptionsSchema>;
/** Options as a caller may write them: every field optional, the schema fills the defaults. */
export type ScreenshotOptionsInput = z.input<typeof screenshotOptionsSchema>;
export type ScreenshotRequest = z.output<typeof screenshotRequestSchema>;

export const REQUEST_FIELDS = ['url', ...Object.keys(optionsShape)] as const;

export type RequestProblem = Problem & { code: 'invalid_request' | 'url_refused' };

/** Validates a parsed JSON body; the problem's message says what to change. */
export function parseScreenshotRequest(
  body: unknown,
  allow: EgressAllowList,
): { ok: true; request: ScreenshotRequest } | { ok: false; problem: RequestProblem } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('invalid_request', 'the body must be a JSON object like {"url": "https://example.com"}');
  }
  const parsed = screenshotRequestSchema.safeParse(body);
  if (!parsed.success) return fail('invalid_request', describeIssues(parsed.error));
  const verdict = refuseUnsafeUrl(parsed.data.url, allow);
  if ('refused' in verdict) return fail('url_refused', verdict.refused);
  const request: ScreenshotRequest = { ...parsed.data, url: verdict.target.url.href };
  if (request.callbackUrl !== undefined) {
    // The same policy as the browser's: no webhooks into the private network.
    const callback = refuseUnsafeUrl(request.callbackUrl, allow);
    if ('refused' in callback) return fail('url_refused', callback.refused.replace(/^url/, 'callbackUrl'));
    request.callbackUrl = callback.target.url.href;
  }
  return { ok: true, request };
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
