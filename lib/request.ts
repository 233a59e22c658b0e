// The screenshot request: one schema for API validation, the job message and the docs.
import { z } from 'zod';
import { EgressAllowList, MAX_URL_LENGTH, refuseUnsafeUrl } from './url-policy.js';

export const VIEWPORT = {
  width: { min: 320, max: 3840, default: 1280 },
  height: { min: 200, max: 2160, default: 800 },
} as const;

const bounded = (name: string, b: { min: number; max: number; default: number }) =>
  z
    .number({ error: `${name} must be a whole number from ${b.min} to ${b.max}` })
    .int({ error: `${name} must be a whole number from ${b.min} to ${b.max}` })
    .min(b.min, { error: `${name} must be at least ${b.min} (got a smaller number)` })
    .max(b.max, { error: `${name} must be at most ${b.max} (got a larger number)` })
    .default(b.default);

export const screenshotOptionsSchema = z.strictObject({
  width: bounded('width', VIEWPORT.width).describe('Viewport width in CSS pixels'),
  height: bounded('height', VIEWPORT.height).describe('Viewport height in CSS pixels'),
  fullPage: z
    .boolean({ error: 'fullPage must be true or false' })
    .default(false)
    .describe('Capture the whole scroll height instead of the viewport'),
});

export const screenshotRequestSchema = screenshotOptionsSchema.extend({
  url: z
    .string({ error: 'url is required: send {"url": "https://example.com"}' })
    .min(1, { error: 'url must not be empty' })
    .max(MAX_URL_LENGTH, { error: `url must be at most ${MAX_URL_LENGTH} characters` })
    .describe('The page to capture (http or https)'),
});

export type ScreenshotOptions = z.output<typeof screenshotOptionsSchema>;
export type ScreenshotRequest = z.output<typeof screenshotRequestSchema>;

export type RequestProblem = { code: 'invalid_request' | 'url_refused'; message: string };

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
  return { ok: true, request: { ...parsed.data, url: verdict.target.url.href } };
}

function fail(code: RequestProblem['code'], message: string) {
  return { ok: false as const, problem: { code, message } };
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        const known = Object.keys(screenshotRequestSchema.shape).join(', ');
        return `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; allowed fields are ${known}`;
      }
      return issue.message;
    })
    .join('; ');
}
