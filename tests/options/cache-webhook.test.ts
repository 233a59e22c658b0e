// The result cache, the signed webhook and the OpenAPI document, through the local stack's HTTP API.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheIndexKey, cacheKey } from '../../lib/storage/cache.js';
import { EgressGuard } from '../../lib/egress/egress.js';
import { LIMITS, REQUEST_FIELDS, screenshotOptionsSchema, VIEWPORT } from '../../lib/contract/request.js';
import { EgressAllowList } from '../../lib/egress/url-policy.js';
import { webhookPayloadSchema } from '../../lib/contract/status.js';
import { deliverWebhook, WEBHOOK_RETRY } from '../../lib/worker/webhook.js';
import { LOCAL_REGION } from '../../local/emulator.js';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';
import { sniffFormat } from '../support/images.js';
import { eventually } from '../support/eventually.js';
import { shoot } from './shoot.js';

const SECRET = 'test-webhook-secret-0123456789';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  status: number;
  /** When the receiver got it (ms since the epoch). */
  at: number;
}

/** A webhook receiver on 127.0.0.1 that records every call; /flaky answers 503 to its first. */
async function startReceiver() {
  const calls: Received[] = [];
  let flakyCalls = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const status = path === '/flaky' && flakyCalls++ === 0 ? 503 : 204;
      calls.push({ path, headers: req.headers, raw: Buffer.concat(chunks).toString('utf8'), status, at: Date.now() });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    hostPort: `127.0.0.1:${port}`,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** docs/api.md's verification recipe, verbatim in spirit: recompute, compare in constant time, check age. */
function verify(secret: string, call: Received, maxAgeS = 300): boolean {
  const timestamp = String(call.headers['x-url2png-timestamp'] ?? '');
  const signature = String(call.headers['x-url2png-signature'] ?? '');
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > maxAgeS) return false;
  const expected = `v1=${createHmac('sha256', secret).update(`${timestamp}.${call.raw}`).digest('hex')}`;
  return signature.length === expected.length && timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
}

const until = (check: () => boolean) => eventually(check, Boolean, 20_000);

/** Every backoff of the stack's schedule together (1 + 2 + 4 s): a retry would have come within it. */
const ALL_BACKOFFS_MS = Array.from({ length: WEBHOOK_RETRY.attempts - 1 }, (_, i) => WEBHOOK_RETRY.backoffMs * 2 ** i).reduce(
  (a, b) => a + b,
);
/** Waits until `ms` after `at`, plus a margin for the retry's own connect and send. */
const waitPast = (at: number, ms: number) => new Promise((r) => setTimeout(r, Math.max(0, at + ms + 500 - Date.now())));

let pages: PageServer;
let receiver: Receiver;
let stack: LocalStack;

beforeAll(async () => {
  pages = await servePages({
    '/cached': html('<h1>cache me</h1>'),
    '/short': html('<h1>short ttl</h1>'),
    '/hooked': html('<h1>webhook</h1>'),
  });
  receiver = await startReceiver();
  stack = await startTestStack({ allow: [pages.hostPort, receiver.hostPort], env: { URL2PNG_WEBHOOK_SECRET: SECRET } });
});

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
  await pages?.close();
});

describe('cache', () => {
  it('two identical cached requests render once: the second answers 200 done at once', async () => {
    const body = { url: `${pages.origin}/cached`, cache: true, width: 800, height: 600 };
    const first = await shoot(stack.apiUrl, body);
    expect(pages.hits.get('/cached')).toBe(1);

    // Same request, URL in another spelling of the same canonical form, defaults written out.
    const again = await postScreenshot(stack.apiUrl, { ...body, url: `${pages.origin}/x/../cached`, format: 'png', delay: 0 });
    expect(again.res.status).toBe(200);
    expect(again.json).toMatchObject({ id: first.status.id, status: 'done', cached: true, contentType: 'image/png' });
    expect(again.res.headers.get('location')).toBe(again.json.statusUrl);
    const image = await fetch(String(again.json.imageUrl));
    expect(sniffFormat(new Uint8Array(await image.arrayBuffer()))).toBe('png');
    expect(pages.hits.get('/cached')).toBe(1); // the page was not fetched again
  });

  it('a different option, or no cache, renders again', async () => {
    const before = pages.hits.get('/cached') ?? 0;
    const other = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/cached`, cache: true, width: 801, height: 600 });
    expect(other.res.status).toBe(202);
    const uncached = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/cached`, width: 800, height: 600 });
    expect(uncached.res.status).toBe(202);
    await Promise.all([waitForSettled(String(other.json.statusUrl)), waitForSettled(String(uncached.json.statusUrl))]);
    expect(pages.hits.get('/cached')).toBe(before + 2);
  });

  it('a result older than the request TTL (seconds) is not reused', async () => {
    const body = { url: `${pages.origin}/short`, cache: 1 };
    await shoot(stack.apiUrl, body);
    await new Promise((r) => setTimeout(r, 1300));
    const again = await postScreenshot(stack.apiUrl, body);
    expect(again.res.status).toBe(202);
    await waitForSettled(String(again.json.statusUrl));
    expect(pages.hits.get('/short')).toBe(2);
  });

  it('objects carry Cache-Control: image immutable, cache index no-cache', async () => {
    const s3 = new S3Client({
      region: LOCAL_REGION,
      endpoint: stack.emulator.endpoint,
      credentials: stack.emulator.credentials,
      forcePathStyle: true,
    });
    const options = screenshotOptionsSchema.parse({ cache: true, width: 800, height: 600 });
    const index = await s3.send(
      new GetObjectCommand({ Bucket: stack.emulator.bucket, Key: cacheIndexKey(cacheKey(`${pages.origin}/cached`, options)) }),
    );
    expect(index.CacheControl).toBe('no-cache');
    const entry = JSON.parse(await index.Body!.transformToString()) as { imageKey: string };
    const image = await s3.send(new GetObjectCommand({ Bucket: stack.emulator.bucket, Key: entry.imageKey }));
    expect(image.CacheControl).toBe('private, max-age=31536000, immutable');
    expect(image.ContentType).toBe('image/png');
  });

  it('status records are stored no-store, and GET answers no-store: a status changes', async () => {
    const s3 = new S3Client({
      region: LOCAL_REGION,
      endpoint: stack.emulator.endpoint,
      credentials: stack.emulator.credentials,
      forcePathStyle: true,
    });
    const shot = await shoot(stack.apiUrl, { url: `${pages.origin}/cached`, width: 700, height: 500 });
    const record = await s3.send(new GetObjectCommand({ Bucket: stack.emulator.bucket, Key: `status/${shot.status.id}.json` }));
    expect(record.CacheControl).toBe('no-store');
    const get = await fetch(`${stack.apiUrl}/screenshots/${shot.status.id}`);
    expect(get.headers.get('cache-control')).toBe('no-store');
  });

  it('a cache hit sends no webhook: the answer is already in the POST response', async () => {
    const body = { url: `${pages.origin}/cached`, cache: true, width: 900, height: 500, callbackUrl: receiver.url('/cache-hit') };
    await shoot(stack.apiUrl, body);
    await until(() => receiver.calls.some((c) => c.path === '/cache-hit')); // the render's own webhook
    const hit = await postScreenshot(stack.apiUrl, body);
    expect(hit.res.status).toBe(200);
    expect(hit.json).toMatchObject({ status: 'done', cached: true });
    const answeredAt = Date.now();
    // A webhook for the hit would come at once (the job is already settled): 2 s is ample here,
    // and the render's own call would have been retried by now too.
    await waitPast(answeredAt, 1500);
    expect(receiver.calls.filter((c) => c.path === '/cache-hit').map((c) => c.status)).toEqual([204]);
  });
});

describe('webhook', () => {
  // Posted together, so the two tests' waits for a (wrong) retry overlap instead of adding up.
  const posted: Record<'done' | 'failed', Promise<{ res: Response; json: Record<string, unknown> }>> = {} as never;
  beforeAll(() => {
    posted.done = postScreenshot(stack.apiUrl, { url: `${pages.origin}/hooked`, callbackUrl: receiver.url('/done') });
    posted.failed = postScreenshot(stack.apiUrl, {
      url: `${pages.origin}/hooked`,
      selector: '#nothing',
      callbackUrl: receiver.url('/failed'),
    });
  });

  it('a done job: one correctly signed call with { id, status, imageUrl }, and no other past every backoff', async () => {
    const { json } = await posted.done;
    await until(() => receiver.calls.some((c) => c.path === '/done'));
    await waitPast(receiver.calls.find((c) => c.path === '/done')!.at, ALL_BACKOFFS_MS);
    const calls = receiver.calls.filter((c) => c.path === '/done');
    expect(calls.map((c) => c.status)).toEqual([204]);
    expect(calls[0]!.headers['content-type']).toBe('application/json');
    expect(verify(SECRET, calls[0]!)).toBe(true);
    expect(verify('another-secret', calls[0]!)).toBe(false);
    const payload = JSON.parse(calls[0]!.raw);
    expect(payload).toEqual({ id: json.id, status: 'done', imageUrl: expect.any(String), quality: expect.objectContaining({ flags: [] }) });
    expect(webhookPayloadSchema.strict().parse(payload)).toEqual(payload);
    expect(sniffFormat(new Uint8Array(await (await fetch(payload.imageUrl)).arrayBuffer()))).toBe('png');
  });

  it('a failed job: one signed call with { id, status: failed, error }, and no other past every backoff', async () => {
    const { json } = await posted.failed;
    await until(() => receiver.calls.some((c) => c.path === '/failed'));
    await waitPast(receiver.calls.find((c) => c.path === '/failed')!.at, ALL_BACKOFFS_MS);
    const calls = receiver.calls.filter((c) => c.path === '/failed');
    expect(calls.map((c) => c.status)).toEqual([204]);
    expect(verify(SECRET, calls[0]!)).toBe(true);
    expect(JSON.parse(calls[0]!.raw)).toEqual({
      id: json.id,
      status: 'failed',
      error: { code: 'selector_not_found', message: expect.any(String) },
    });
  });

  it('a receiver that answers 503 gets the same signed delivery again after a backoff', async () => {
    await postScreenshot(stack.apiUrl, { url: `${pages.origin}/hooked`, callbackUrl: receiver.url('/flaky') });
    await until(() => receiver.calls.filter((c) => c.path === '/flaky').length >= 2);
    const calls = receiver.calls.filter((c) => c.path === '/flaky');
    expect(calls.map((c) => c.status)).toEqual([503, 204]);
    // The retry waited the first backoff of the schedule (not none, not the second, twice as long).
    const gap = calls[1]!.at - calls[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(WEBHOOK_RETRY.backoffMs);
    expect(gap).toBeLessThan(2 * WEBHOOK_RETRY.backoffMs);
    expect(calls.every((c) => verify(SECRET, c))).toBe(true);
    expect(calls[0]!.headers['x-url2png-delivery']).toBe(calls[1]!.headers['x-url2png-delivery']);
    expect(calls[0]!.raw).toBe(calls[1]!.raw);
  });

  it('egress policy: the name is resolved once, checked, and the call goes to that address', async () => {
    const payload = { id: '00000000-0000-4000-8000-000000000000', status: 'done' as const };
    const lookups: string[] = [];
    const resolvesToLoopback = async (host: string) => {
      lookups.push(host);
      return ['127.0.0.1'];
    };
    // Not allow-listed: hooks.example.com resolves to loopback, so nothing is sent.
    const before = receiver.calls.length;
    const refused = await deliverWebhook(`http://hooks.example.com:${receiver.port}/policy`, payload, {
      secret: SECRET,
      guard: new EgressGuard(new EgressAllowList([]), resolvesToLoopback),
    });
    expect(refused).toMatchObject({ delivered: false, reason: expect.stringMatching(/refused by the egress policy.*loopback/) });
    expect(receiver.calls.length).toBe(before);
    expect(lookups).toEqual(['hooks.example.com']);
    // Allow-listed by name: delivered to the resolved address, with the name as Host.
    const sent = await deliverWebhook(`http://hooks.example.com:${receiver.port}/policy`, payload, {
      secret: SECRET,
      guard: new EgressGuard(new EgressAllowList([`hooks.example.com:${receiver.port}`]), resolvesToLoopback),
    });
    expect(sent).toMatchObject({ delivered: true, attempts: 1 });
    // One lookup for the one attempt: the connection went to that answer, not to a second lookup.
    expect(lookups).toEqual(['hooks.example.com', 'hooks.example.com']);
    const call = receiver.calls.at(-1)!;
    expect(call.headers.host).toBe(`hooks.example.com:${receiver.port}`);
    expect(verify(SECRET, call)).toBe(true);
  });
});

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document whose request schema is the one the API validates with', async () => {
    const res = await fetch(`${stack.apiUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    // biome-ignore lint/suspicious/noExplicitAny: the document is checked field by field below
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/screenshots', '/screenshots/{id}', '/devices', '/openapi.json']));
    expect(doc.paths['/screenshots'].post.requestBody.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/CreateScreenshotRequest',
    );
    // POST /screenshots takes the request plus wait (synchronous answers); batches take the request alone.
    const create = doc.components.schemas.CreateScreenshotRequest;
    expect(Object.keys(create.properties).sort()).toEqual([...REQUEST_FIELDS, 'wait'].sort());
    expect(create.properties.wait).toMatchObject({ type: 'number', minimum: 0, maximum: 25 });
    expect(doc.paths['/batches'].post.requestBody.content['application/json'].schema.properties.requests.items.$ref).toBe(
      '#/components/schemas/ScreenshotRequest',
    );
    const schema = doc.components.schemas.ScreenshotRequest;
    expect(Object.keys(schema.properties).sort()).toEqual([...REQUEST_FIELDS].sort());
    expect(schema.required).toBeUndefined();
    expect(schema.oneOf).toEqual([{ required: ['url'] }, { required: ['html'] }]);
    expect(schema.additionalProperties).toBe(false);
    const p = schema.properties;
    expect(p.width).toMatchObject({ type: 'integer', minimum: VIEWPORT.width.min, maximum: VIEWPORT.width.max, default: 1280 });
    expect(p.height).toMatchObject({ minimum: 200, maximum: 2160, default: 800 });
    expect(p.deviceScaleFactor).toMatchObject({ type: 'number', minimum: 1, maximum: 3, default: 1 });
    expect(p.format).toMatchObject({ enum: ['png', 'jpeg', 'webp', 'pdf'], default: 'png' });
    expect(p.pdf.properties.paper).toMatchObject({ default: 'A4' });
    expect(p.quality).toMatchObject({ minimum: 1, maximum: 100, default: LIMITS.quality.default });
    expect(p.waitUntil).toMatchObject({ enum: ['load', 'domcontentloaded', 'networkidle'], default: 'load' });
    expect(p.delay).toMatchObject({ minimum: 0, maximum: 10000, default: 0 });
    expect(p.hideSelectors).toMatchObject({ type: 'array', maxItems: 20, default: [] });
    expect(p.cache.anyOf).toEqual([{ type: 'boolean' }, { type: 'integer', minimum: 1, maximum: 604800 }]);
    expect(p.fullPage.description).toMatch(
      new RegExp(`${LIMITS.fullPageMaxHeight} image pixels tall or ${LIMITS.maxImagePixels / 1_000_000} megapixels`),
    );
    for (const field of REQUEST_FIELDS) expect(p[field].description, field).toBeTruthy();
    expect(doc.paths['/screenshots'].post.callbacks.settled).toBeDefined();
  });
});
