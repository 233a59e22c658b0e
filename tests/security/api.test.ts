// The API's refusals over HTTP, through the local stack (the API-Gateway stand-in, the real
// handler): direct payloads in every address notation and scheme, every malformed request we
// could think of, a local API key, and a generated-input run proving no input yields a 5xx.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack } from '../support/stack.js';
import { errorBodySchema, type ErrorBody } from '../../lib/contract/problem.js';

const KEY = 'test-key-0123456789abcdef';
let stack: LocalStack;

beforeAll(async () => {
  process.env.URL2PNG_API_KEY = KEY;
  stack = await startTestStack({ allow: [] });
});

afterAll(async () => {
  await stack?.stop();
  delete process.env.URL2PNG_API_KEY;
});

async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { 'x-api-key': KEY, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', json: json as Partial<ErrorBody> & Record<string, unknown> };
}

const post = (body: unknown) => send('POST', '/screenshots', JSON.stringify(body));

/** A 4xx in the contract's shape, with exactly this status and code, whose message says something. */
function expectClientError(r: Awaited<ReturnType<typeof send>>, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.type).toMatch(/^application\/json/);
  expect(r.json?.error?.message).toEqual(expect.any(String));
  expect(r.json!.error!.message.length).toBeGreaterThan(15);
  expect(r.json!.error!.code).toBe(code);
}

// Every one of these is a loopback, private, link-local, metadata, CGNAT, reserved or multicast
// address once the WHATWG parser has read it; the API must refuse them without the network.
const LITERAL_ADDRESSES = [
  'http://127.0.0.1/',
  'http://127.1/',
  'http://2130706433/',
  'http://0x7f000001/',
  'http://0x7f.0.0.1/',
  'http://0177.0.0.1/',
  'http://017700000001/',
  'http://127.0.0.1./',
  'http://%31%32%37.0.0.1/',
  'http://１２７.０.０.１/',
  'http://127。0。0。1/',
  'http://①②⑦.⓪.⓪.①/',
  'http://𝟏𝟐𝟕.0.0.1/',
  'http://0/',
  'http://0.0.0.0/',
  'http://10.0.0.1/',
  'http://172.16.0.1/',
  'http://192.168.1.1/',
  'http://169.254.169.254/latest/meta-data/',
  'http://0xa9fea9fe/',
  'http://100.64.0.1/',
  'http://224.0.0.1/',
  'http://255.255.255.255/',
  'http://240.0.0.1/',
  'http://192.0.2.1/',
  'http://[::1]/',
  'http://[::]/',
  'http://[0:0:0:0:0:0:0:1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:7f00:1]/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::127.0.0.1]/',
  'http://[64:ff9b::a9fe:a9fe]/',
  'http://[64:ff9b::127.0.0.1]/',
  'http://[64:ff9b:1::1]/',
  'http://[::ffff:0:127.0.0.1]/',
  'http://[2002:7f00:1::]/',
  'http://[2001::1]/',
  'http://[fd00:ec2::254]/',
  'http://[fe80::1]/',
  'http://[fc00::1]/',
  'http://[ff02::1]/',
  'https://localhost/',
  'http://LOCALHOST./',
  'http://foo.localhost/',
  'http://metadata.google.internal/',
  'http://intranet/',
];

const REFUSED_URLS = [
  'file:///etc/passwd',
  'FILE:///etc/passwd',
  'ftp://example.com/',
  'gopher://example.com/',
  'data:text/html,<h1>x</h1>',
  'javascript:alert(1)',
  'chrome://version',
  'view-source:https://example.com/',
  'ws://example.com/',
  'blob:https://example.com/uuid',
  'https://user:pass@example.com/',
  'https://user@example.com/',
  '//example.com/',
  'example.com',
  'http://',
  `https://example.com/${'a'.repeat(2100)}`,
];

describe('direct payloads: every address notation and scheme is refused by the API', () => {
  it(`${LITERAL_ADDRESSES.length} literal addresses in every notation -> 400 url_refused`, async () => {
    for (const url of LITERAL_ADDRESSES) {
      const r = await post({ url });
      expect.soft({ url, status: r.status, code: r.json?.error?.code }).toEqual({ url, status: 400, code: 'url_refused' });
      expect.soft(r.json?.error?.message ?? '', url).toMatch(/use a public host/);
    }
  });

  it(`${REFUSED_URLS.length} schemes, credentials and malformed URLs -> 400 with a message saying what to change`, async () => {
    for (const url of REFUSED_URLS) {
      const r = await post({ url });
      expect.soft({ url, status: r.status }).toEqual({ url, status: 400 });
      expect.soft(r.json?.error?.message ?? '', url).toMatch(/use http or https|credentials|absolute URL|characters|no host|at most/);
    }
  });

  it('a public-looking host is accepted (202) and fails later without the network', async () => {
    const r = await post({ url: 'https://example.com/' });
    expect(r.status).toBe(202);
  });
});

describe('malformed requests are 4xx JSON errors', () => {
  it('body over 2 MB -> 413', async () => {
    expectClientError(
      await send('POST', '/screenshots', JSON.stringify({ url: 'https://example.com/', pad: 'x'.repeat(2_100_000) })),
      413,
      'body_too_large',
    );
  });
  it('non-JSON content types -> 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      expectClientError(
        await send('POST', '/screenshots', '{"url":"https://example.com/"}', { 'content-type': type }),
        415,
        'unsupported_media_type',
      );
    }
  });
  it('invalid JSON -> 400 invalid_json', async () => {
    for (const body of ['{', '{"url":', 'nul', '{"url":"x"}}', '\u0000']) {
      expectClientError(await send('POST', '/screenshots', body), 400, 'invalid_json');
    }
  });
  it('callbackUrl without a webhook secret -> 400 callbacks_disabled, for a screenshot, a batch and a batch item', async () => {
    // This stack has no URL2PNG_WEBHOOK_SECRET: a webhook could not be signed.
    expect(process.env.URL2PNG_WEBHOOK_SECRET).toBeUndefined();
    const hook = 'https://hooks.example.com/url2png';
    const single = await post({ url: 'https://example.com/', callbackUrl: hook });
    expectClientError(single, 400, 'callbacks_disabled');
    expect(single.json.error!.message).toMatch(/URL2PNG_WEBHOOK_SECRET/);
    const batch = (body: unknown) => send('POST', '/batches', JSON.stringify(body));
    expectClientError(await batch({ requests: [{ url: 'https://example.com/' }], callbackUrl: hook }), 400, 'callbacks_disabled');
    expectClientError(
      await batch({ requests: [{ url: 'https://example.com/' }, { url: 'https://example.org/', callbackUrl: hook }] }),
      400,
      'callbacks_disabled',
    );
    // Without a callbackUrl the same requests are accepted.
    expect((await post({ url: 'https://example.com/' })).status).toBe(202);
  });
  it('not an object -> 400', async () => {
    for (const body of [[], 'https://example.com', 42, null, true]) expectClientError(await post(body), 400, 'invalid_request');
  });
  it('unknown fields -> 400 naming them', async () => {
    const r = await post({ url: 'https://example.com/', colour: 'red', fullpage: true });
    expectClientError(r, 400, 'invalid_request');
    expect(r.json.error!.message).toMatch(/"colour"/);
    expect(r.json.error!.message).toMatch(/"fullpage"/);
  });
  it('prototype-pollution keys are refused and pollute nothing', async () => {
    const bodies = [
      '{"url":"https://example.com/","__proto__":{"polluted":"yes"}}',
      '{"url":"https://example.com/","constructor":{"prototype":{"polluted":"yes"}}}',
      '{"__proto__":{"url":"https://example.com/"}}',
      '{"url":"https://example.com/","width":{"__proto__":{"polluted":"yes"}}}',
    ];
    for (const body of bodies) {
      const r = await send('POST', '/screenshots', body);
      expect.soft(r.status, body).toBe(400);
      expect.soft(r.type, body).toMatch(/^application\/json/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
  it('wrong types and out-of-range options -> 400 saying what to change', async () => {
    for (const body of [
      {},
      { url: 42 },
      { url: '' },
      { url: 'https://example.com/', width: 'wide' },
      { url: 'https://example.com/', width: 1e9 },
      { url: 'https://example.com/', fullPage: 'yes' },
    ]) {
      expectClientError(await post(body), 400, 'invalid_request');
    }
  });
  it('unknown routes -> 404, wrong methods -> 405, bad ids -> 400, all JSON', async () => {
    expectClientError(await send('GET', '/nope'), 404, 'not_found');
    expectClientError(await send('GET', '/screenshots/../../etc/passwd'), 404, 'not_found');
    expectClientError(await send('DELETE', '/screenshots'), 405, 'method_not_allowed');
    expectClientError(await send('PUT', '/screenshots/6f1c2d3e-4b5a-4c6d-8e7f-901234567890', '{}'), 405, 'method_not_allowed');
    expectClientError(await send('GET', '/screenshots/%00%ff'), 400, 'invalid_id');
  });
  it('POST without or with a wrong API key -> 403 JSON (URL2PNG_API_KEY set); GET needs none', async () => {
    const missing = await fetch(`${stack.apiUrl}/screenshots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"url":"https://example.com/"}',
    });
    expect(missing.status).toBe(403);
    expect(((await missing.json()) as ErrorBody).error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/x-api-key/) });
    expectClientError(await send('POST', '/screenshots', '{"url":"https://example.com/"}', { 'x-api-key': 'wrong' }), 403, 'forbidden');
    // Without a key: answered (404 not_found for an id nobody posted), not refused (403 forbidden).
    const get = await fetch(`${stack.apiUrl}/screenshots/6f1c2d3e-4b5a-4c6d-8e7f-901234567890`);
    expect([get.status, ((await get.json()) as ErrorBody).error.code]).toEqual([404, 'not_found']);
  });
});

describe('generated input never yields a 5xx', () => {
  const fieldValue = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.webUrl(),
    fc.string(),
    fc.integer(),
    fc.constantFrom('__proto__', 'constructor'),
  );
  const body = fc.oneof(
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 200 }),
    fc
      .dictionary(
        fc.constantFrom('url', 'width', 'height', 'fullPage', 'format', 'delay', '__proto__', 'constructor', 'prototype', 'x'),
        fieldValue,
      )
      .map((o) => JSON.stringify(o)),
    // The capture-control fields, with hostile shapes (nested objects, header-injection strings, odd unicode).
    fc
      .dictionary(
        fc.constantFrom(
          'html',
          'headers',
          'cookies',
          'userAgent',
          'authentication',
          'device',
          'timezone',
          'locale',
          'clip',
          'omitBackground',
          'styles',
          'scripts',
          'click',
          'scrollTo',
          'disableAnimations',
          'failOnHttpError',
        ),
        fc.oneof(
          fieldValue,
          fc.dictionary(fc.string({ maxLength: 20 }), fc.oneof(fc.string(), fc.constant('a\r\nb: c'))),
          fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
          fc.fullUnicodeString(),
        ),
      )
      .map((o) => JSON.stringify({ url: 'https://example.com/', ...o })),
    fc
      .record({ url: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string(), fc.fullUnicodeString()) })
      .map((o) => JSON.stringify(o)),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
  );
  const request = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    path: fc.oneof(
      fc.constantFrom('/screenshots', '/screenshots/', '/', '/devices', '/screenshots/6f1c2d3e-4b5a-4c6d-8e7f-901234567890'),
      fc.webPath(),
      fc.string({ maxLength: 40 }).map((s) => `/screenshots/${encodeURIComponent(s)}`),
    ),
    contentType: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      '',
      'application/vnd.api+json',
      'application/x-www-form-urlencoded',
    ),
    body,
  });

  it('300 generated requests: every answer is < 500, and every error is JSON in the contract shape', async () => {
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, contentType, body }) => {
        const hasBody = method !== 'GET' && method !== 'HEAD';
        const res = await fetch(`${stack.apiUrl}${path.startsWith('/') ? path : `/${path}`}`, {
          method,
          headers: { 'x-api-key': KEY, ...(contentType ? { 'content-type': contentType } : {}) },
          body: hasBody ? body : undefined,
        });
        const text = await res.text();
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400 && method !== 'HEAD') {
          expect(res.headers.get('content-type')).toMatch(/^application\/json/);
          // Exactly { error: { code, message } }: a snake_case code and a message that says something.
          const parsed = errorBodySchema.strict().parse(JSON.parse(text));
          expect(parsed.error.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
          expect(parsed.error.message.length).toBeGreaterThan(15);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the service keeps serving afterwards', async () => {
    const r = await post({ url: 'https://example.com/after' });
    expect(r.status).toBe(202);
    const status = await send('GET', `/screenshots/${r.json.id as string}`);
    expect(status.status).toBe(200);
  });
});
