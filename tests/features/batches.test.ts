// POST /batches and GET /batches/{id} through the HTTP API of the local stack (real emulator,
// worker and Chromium): a batch of 20 with deliberate failures settles with the right per-job
// outcomes and exactly one signed webhook; the claim that makes it one holds under concurrency.
import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onBatchJobSettled, type BatchWebhookPayload } from '../../lib/api/batches.js';
import { S3ScreenshotStore } from '../../lib/storage/store.js';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { eventually } from '../support/eventually.js';
import { emulatorS3, startTestStack } from '../support/stack.js';
import { runCli } from '../surfaces/support.js';

const SECRET = 'test-batch-webhook-secret-42';
const FAILING = new Set([3, 8, 13, 18]);
/** docs/api.md's recipe: v1= hex HMAC-SHA256(secret, "<timestamp>.<raw body>"). */
const signature = (timestamp: string, raw: string) => `v1=${createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')}`;

interface Call {
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
}

let pages: PageServer;
let stack: LocalStack;
let receiver: http.Server;
let receiverOrigin: string;
const calls: Call[] = [];

// biome-ignore lint/suspicious/noExplicitAny: the API's JSON, asserted field by field below
type Json = any;
const api = (path: string, init?: RequestInit) =>
  fetch(`${stack.apiUrl}${path}`, init).then(async (res) => ({ res, json: (await res.json()) as Json }));
const postBatch = (body: unknown) =>
  api('/batches', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  pages = await servePages({ '/page': html('<h1 id="title">batch item</h1>') });
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({ path: req.url ?? '/', headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const port = (receiver.address() as AddressInfo).port;
  receiverOrigin = `http://127.0.0.1:${port}`;
  stack = await startTestStack({
    allow: [pages.hostPort, `127.0.0.1:${port}`],
    env: { URL2PNG_WEBHOOK_SECRET: SECRET },
    workerConcurrency: 2,
  });
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

describe('POST /batches', () => {
  it('a batch of 20 (4 failing on purpose) settles partial, each job with its outcome, and one signed webhook', async () => {
    const requests = Array.from({ length: 20 }, (_, i) => ({
      url: `${pages.origin}/page?item=${i}`,
      width: 320,
      height: 200,
      // No element matches: a permanent failure (selector_not_found), recorded, never retried.
      ...(FAILING.has(i) ? { selector: '#missing' } : {}),
    }));
    const { res, json } = await postBatch({ requests, callbackUrl: `${receiverOrigin}/batch` });
    expect(res.status, JSON.stringify(json)).toBe(202);
    expect(res.headers.get('location')).toBe(json.statusUrl);
    expect(json.jobs).toHaveLength(20);
    for (const job of json.jobs) expect(job.statusUrl).toBe(`${stack.apiUrl}/screenshots/${job.id}`);

    const settled = await eventually(
      async () => (await (await fetch(json.statusUrl)).json()) as Json,
      (b) => b.status !== 'queued',
      150_000,
    );
    expect(settled.status).toBe('partial');
    expect(settled.counts).toEqual({ total: 20, queued: 0, done: 16, failed: 4 });
    settled.jobs.forEach((job: { id: string; status: string; imageUrl?: string; error?: { code: string } }, i: number) => {
      expect(job.id).toBe(json.jobs[i].id);
      if (FAILING.has(i)) expect(job).toMatchObject({ status: 'failed', error: { code: 'selector_not_found' } });
      else expect(job, `job ${i}`).toMatchObject({ status: 'done', imageUrl: expect.stringMatching(/^http/) });
    });
    const image = await fetch(settled.jobs[0].imageUrl);
    expect(image.headers.get('content-type')).toBe('image/png');

    await eventually(
      () => calls.filter((c) => c.path === '/batch').length,
      (n) => n >= 1,
      20_000,
    );
    await new Promise((r) => setTimeout(r, 3000)); // a second webhook would come now
    const hooks = calls.filter((c) => c.path === '/batch');
    expect(hooks).toHaveLength(1);
    const [hook] = hooks;
    expect(hook!.headers['x-url2png-signature']).toBe(signature(String(hook!.headers['x-url2png-timestamp']), hook!.raw));
    const payload = JSON.parse(hook!.raw) as BatchWebhookPayload;
    expect(payload).toMatchObject({ batchId: json.id, status: 'partial', counts: { total: 20, done: 16, failed: 4, queued: 0 } });
    expect(payload.jobs.map((j) => j.status)).toEqual(settled.jobs.map((j: { status: string }) => j.status));
  }, 180_000);

  it('GET answers done when every job is done; 404 for an unknown batch, 400 for a malformed id', async () => {
    const { json } = await postBatch({ requests: [{ url: `${pages.origin}/page?a` }, { url: `${pages.origin}/page?b`, width: 400 }] });
    const settled = await eventually(
      async () => (await (await fetch(json.statusUrl)).json()) as Json,
      (b) => b.status !== 'queued',
      60_000,
    );
    expect(settled).toMatchObject({ status: 'done', counts: { total: 2, done: 2, failed: 0, queued: 0 } });
    const unknown = await api('/batches/3f0c1d2e-0000-4000-8000-000000000000');
    expect([unknown.res.status, unknown.json.error?.code]).toEqual([404, 'not_found']);
    const malformed = await api('/batches/nope');
    expect([malformed.res.status, malformed.json.error?.code]).toEqual([400, 'invalid_id']);
  });

  it.each([
    [{ requests: [] }, /requests must be a non-empty array/],
    [{ requests: Array.from({ length: 51 }, () => ({ url: 'https://example.com' })) }, /requests must have at most 50 items \(got 51\)/],
    [
      {
        requests: [
          { url: 'https://example.com' },
          { url: 'https://example.com' },
          { url: 'https://example.com' },
          { url: 'https://example.com', width: 5000 },
        ],
      },
      /^requests\[3\]\.width must be at most 3840/,
    ],
    [{ requests: [{}] }, /^requests\[0\]: send exactly one of url and html/],
    [{ requests: [{ url: 'https://example.com', colour: 1 }] }, /^requests\[0\]: unknown field\(s\) "colour"/],
    [{ requests: [{ url: 'https://example.com' }], callbackUrl: 'ftp://x' }, /callbackUrl/],
    [{ requests: [{ url: 'https://example.com' }], extra: 1 }, /unknown field\(s\) "extra"; allowed fields are requests, callbackUrl/],
    [[{ url: 'https://example.com' }], /the body must be a JSON object like \{"requests"/],
  ])('answers 400 for %j, naming the index and field', async (body, message) => {
    const { res, json } = await postBatch(body);
    expect(res.status).toBe(400);
    expect(json.error.message).toMatch(message);
  });
});

describe('the batch webhook claim', () => {
  it('sends once when many workers see the batch settle at the same time, and never again after', async () => {
    const { emulator } = stack;
    const s3 = emulatorS3(emulator);
    const store = new S3ScreenshotStore(s3, emulator.bucket);
    const batchId = '0b5e6a9c-1d2e-4f30-9a4b-5c6d7e8f9a0b';
    const jobIds = ['1b5e6a9c-1d2e-4f30-9a4b-5c6d7e8f9a01', '2b5e6a9c-1d2e-4f30-9a4b-5c6d7e8f9a02'];
    const at = new Date().toISOString();
    await s3.send(
      new PutObjectCommand({
        Bucket: emulator.bucket,
        Key: `batches/${batchId}.json`,
        Body: JSON.stringify({ id: batchId, requestedAt: at, jobIds, callbackUrl: 'https://hooks.example/' }),
      }),
    );
    for (const id of jobIds)
      await store.putStatus({
        id,
        status: 'failed',
        url: 'https://example.com/',
        requestedAt: at,
        updatedAt: at,
        error: { code: 'x', message: 'y' },
      });
    const delivered: BatchWebhookPayload[] = [];
    const deps = {
      s3,
      bucket: emulator.bucket,
      store,
      presignTtlSeconds: 60,
      claimSettleMs: 300,
      deliver: async (_url: string, p: BatchWebhookPayload) => void delivered.push(p),
    };
    const sent = await Promise.all(Array.from({ length: 6 }, () => onBatchJobSettled(batchId, deps)));
    expect(sent.filter(Boolean)).toHaveLength(1);
    expect(delivered).toHaveLength(1);
    // A redelivered job (or a late worker) finds the marker and sends nothing.
    expect(await onBatchJobSettled(batchId, deps)).toBe(false);
    expect(delivered).toHaveLength(1);
  });
});

describe('npx url2png --batch', () => {
  it('captures every URL of the file into --out-dir with the options applied to all; a failing one makes exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'url2png-batch-cli-'));
    try {
      const list = join(dir, 'urls.txt');
      writeFileSync(list, `# three pages\n${pages.origin}/page?x=1\n\n${pages.origin}/page?x=2\n${pages.origin}/page?x=3\n`);
      const out = join(dir, 'shots');
      const ok = await runCli(['--batch', list, '--out-dir', out, '--format', 'webp', '--width', '400', '--endpoint', stack.apiUrl]);
      expect(ok.code, ok.stderr).toBe(0);
      const files = readdirSync(out);
      expect(files).toHaveLength(3);
      for (const f of files) expect(f).toMatch(/^127\.0\.0\.1-[0-9a-f]{8}\.webp$/);
      expect(ok.stdout.trim().split('\n')).toHaveLength(3);

      const failing = await runCli([
        '--batch',
        list,
        '--out-dir',
        join(dir, 'partial'),
        '-O',
        'selector=#missing',
        '--json',
        '--endpoint',
        stack.apiUrl,
      ]);
      expect(failing.code).toBe(1);
      expect(JSON.parse(failing.stdout)).toMatchObject({
        status: 'partial',
        jobs: [{ status: 'failed' }, { status: 'failed' }, { status: 'failed' }],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
