// The whole local stack over HTTP: POST -> SQS -> worker (real Chromium) -> S3 -> GET -> image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../lib/contract/problem.js';
import { screenshotStatusSchema } from '../../lib/contract/status.js';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { imageSize as pngSize } from '../support/images.js';
import { postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';

let pages: PageServer;
let stack: LocalStack;

beforeAll(async () => {
  pages = await servePages({ '/hello': html('<h1 style="color:#fff;background:#06c">Hello url2png</h1>') });
  stack = await startTestStack({ allow: [pages.hostPort] });
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
});

describe('local stack, end to end', () => {
  it('POST answers 202 with Location, GET reaches done, imageUrl downloads a 1280x800 PNG', async () => {
    const { res, json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/hello` });
    expect(res.status).toBe(202);
    expect(json.status).toBe('queued');
    expect(res.headers.get('location')).toBe(json.statusUrl);
    expect(json.statusUrl).toBe(`${stack.apiUrl}/screenshots/${json.id}`);
    // A page on another origin may call the API and read the Location header.
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toBe('Location, Preference-Applied');

    const settled = await waitForSettled(String(json.statusUrl));
    expect(settled.status).toBe('done');
    // Both answers are exactly what the one status schema (and so the OpenAPI document) describes.
    expect(screenshotStatusSchema.strict().parse(json)).toEqual(json);
    expect(screenshotStatusSchema.strict().parse(settled)).toEqual(settled);
    expect(Object.keys(settled).sort()).toEqual(['contentType', 'id', 'imageUrl', 'quality', 'requestedAt', 'status', 'updatedAt', 'url']);
    const image = await fetch(settled.imageUrl!);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(pngSize(new Uint8Array(await image.arrayBuffer()))).toEqual({ width: 1280, height: 800 });
    expect(pages.hits.get('/hello')).toBe(1);
  });

  it('renders the requested viewport', async () => {
    const { json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/hello`, width: 640, height: 480 });
    const settled = await waitForSettled(String(json.statusUrl));
    const image = new Uint8Array(await (await fetch(settled.imageUrl!)).arrayBuffer());
    expect(pngSize(image)).toEqual({ width: 640, height: 480 });
  });

  it('a bad URL is a 400 JSON error that says what to change', async () => {
    const { res, json } = await postScreenshot(stack.apiUrl, { url: 'ftp://example.com/x' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*'); // errors are readable cross-origin too
    expect(json).toEqual({ error: { code: 'url_refused', message: expect.stringMatching(/use http or https/) } });
    expect(errorBodySchema.strict().parse(json)).toEqual(json);
  });

  it('an unknown id is a 404 and a malformed id a 400, both JSON', async () => {
    const unknown = await fetch(`${stack.apiUrl}/screenshots/6f1c2d3e-4b5a-4c6d-8e7f-901234567890`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const malformed = await fetch(`${stack.apiUrl}/screenshots/not-an-id`);
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe('invalid_id');
  });

  it('a page on a host name that does not exist ends failed, not queued', async () => {
    const { json } = await postScreenshot(stack.apiUrl, { url: 'http://no-such-host.invalid/' });
    const settled = await waitForSettled(String(json.statusUrl));
    expect(settled.status).toBe('failed');
    expect(settled.error?.code).toBe('dns_not_found');
    expect(screenshotStatusSchema.strict().parse(settled)).toEqual(settled);
  });
});
