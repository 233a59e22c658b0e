// extract and quality through the local stack over HTTP: the done status carries metadata inline,
// quality with its numbers and extractsUrl (a presigned URL of extracts/<id>.json, beside the image);
// the webhook carries the same; qualityFail fails the job quality_failed; a request with extract is a
// different cache entry from one without.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExtractsDocument } from '../../lib/contract/findings.js';
import { screenshotOptionsSchema } from '../../lib/contract/request.js';
import { webhookPayloadSchema, type WebhookPayload } from '../../lib/contract/status.js';
import { cacheKey } from '../../lib/storage/cache.js';
import type { LocalStack } from '../../local/stack.js';
import { shoot, shootFailing } from '../options/shoot.js';
import { servePages, type PageServer } from '../../fixtures/pages.js';
import { eventually } from '../support/eventually.js';
import { startTestStack } from '../support/stack.js';
import { FIXTURES } from './page-fixtures.js';

let pages: PageServer;
let stack: LocalStack;
let receiver: http.Server;
let receiverPort: number;
const hooks: WebhookPayload[] = [];

beforeAll(async () => {
  pages = await servePages(FIXTURES);
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookPayload);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverPort = (receiver.address() as AddressInfo).port;
  stack = await startTestStack({
    allow: [pages.hostPort, `127.0.0.1:${receiverPort}`],
    env: { URL2PNG_WEBHOOK_SECRET: 'extract-test-secret-0123456789' },
  });
});

afterAll(async () => {
  await stack?.stop();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  await pages?.close();
});

describe('extract and quality over the API', () => {
  it('done status: metadata inline, quality, and extractsUrl answering the extracts document; the webhook says the same', async () => {
    const callbackUrl = `http://127.0.0.1:${receiverPort}/hook`;
    const { status } = await shoot(stack.apiUrl, { url: `${pages.origin}/meta`, extract: ['metadata', 'markdown'], callbackUrl });
    expect(status.metadata).toMatchObject({
      title: 'Fixture — metadata',
      httpStatus: 200,
      favicon: `${pages.origin}/icons/favicon-32.png`,
    });
    expect(status.quality).toMatchObject({ flags: [], checks: { overlay: { flagged: false }, blank: { flagged: false } } });
    expect(status.extractsUrl).toMatch(/\/extracts\/[0-9a-f-]{36}\.json\?/);
    const res = await fetch(status.extractsUrl!);
    expect(res.headers.get('content-type')).toBe('application/json');
    const doc = (await res.json()) as ExtractsDocument;
    expect(doc.metadata).toEqual(status.metadata);
    expect(doc.markdown).toContain('The head says it all.');
    expect(doc.text).toBeUndefined();

    const hook = await eventually(() => hooks.find((h) => h.id === status.id), Boolean, 20_000);
    expect(webhookPayloadSchema.parse(hook)).toMatchObject({ status: 'done', metadata: status.metadata, quality: status.quality });
    expect(hook!.extractsUrl).toMatch(/\/extracts\/[0-9a-f-]{36}\.json\?/);
  });

  it('every done job has a quality report; without extract there is no metadata and no extractsUrl', async () => {
    const { status } = await shoot(stack.apiUrl, { url: `${pages.origin}/soft404` });
    expect(status.quality?.flags).toEqual(['soft404']);
    expect(status.metadata).toBeUndefined();
    expect(status.extractsUrl).toBeUndefined();
  });

  it('"qualityChecks": false: done without a quality report (the soft 404 is not looked for), extract still works', async () => {
    const { status } = await shoot(stack.apiUrl, { url: `${pages.origin}/soft404`, qualityChecks: false, extract: ['metadata'] });
    expect(status.status).toBe('done');
    expect(status.quality).toBeUndefined();
    expect(status.metadata?.title).toBeTruthy();
  });

  it('qualityFail fails the job quality_failed with the check and its numbers', async () => {
    const status = await shootFailing(stack.apiUrl, { url: `${pages.origin}/challenge`, qualityFail: ['challenge'] });
    expect(status.status).toBe('failed');
    expect(status.error).toEqual({
      code: 'quality_failed',
      message: 'quality checks named in qualityFail fired: challenge (title: Just a moment..., cloudflare challenge)',
    });
  });

  it('a wrong extract, qualityFail or qualityChecks is a 400 that says what to send', async () => {
    for (const [body, says] of [
      [{ extract: ['pdf'] }, 'extract must be an array of "metadata", "text", "markdown", "html"'],
      [{ extract: 'metadata' }, 'extract must be an array of'],
      [{ extract: ['text', 'text'] }, 'extract must not name an entry twice'],
      [{ qualityFail: ['ugly'] }, 'qualityFail must be an array of "blank", "overlay", "challenge", "soft404", "missingGlyphs", "tiny"'],
      [
        { qualityFail: ['blank'], qualityChecks: false },
        'qualityFail needs the quality checks; drop qualityFail or drop "qualityChecks": false',
      ],
      [{ qualityChecks: 'no' }, 'qualityChecks must be true or false'],
    ] as const) {
      const res = await fetch(`${stack.apiUrl}/screenshots`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${pages.origin}/meta`, ...body }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain(says);
    }
  });

  it('the cache key covers extract and qualityFail (in any order), and stays what it was without them', () => {
    const key = (o: object) => cacheKey('https://example.com/', screenshotOptionsSchema.parse(o));
    expect(key({ extract: ['markdown'] })).not.toBe(key({}));
    expect(key({ extract: ['markdown', 'metadata'] })).toBe(key({ extract: ['metadata', 'markdown'] }));
    expect(key({ qualityFail: ['blank'] })).not.toBe(key({}));
    expect(key({ extract: [], qualityFail: [] })).toBe(key({}));
  });
});
