// The S3 behaviour the code relies on and the emulator lacks, answered as AWS documents it by the
// local runtime's SDK middleware (local/aws-sdk-hooks.ts), through the real stack:
//   - Amazon S3 API Reference, GetObject, "Permissions": without s3:ListBucket (the roles have none)
//     a missing key answers 403 AccessDenied, not 404 NoSuchKey;
//   - Amazon S3 User Guide, "Add preconditions to S3 operations with conditional requests": a
//     PutObject with If-None-Match: * on an existing key answers 412 PreconditionFailed.
import { randomUUID } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onBatchJobSettled, type BatchWebhookPayload } from '../../lib/api/batches.js';
import { S3HtmlInputs } from '../../lib/storage/html-inputs.js';
import { newJob } from '../../lib/contract/job.js';
import { ImageComparer } from '../../lib/worker/compare.js';
import { S3ScreenshotStore } from '../../lib/storage/store.js';
import { asFunction } from '../../local/aws-sdk-hooks.js';
import { LOCAL_REGION } from '../../local/emulator.js';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { eventually } from '../support/eventually.js';
import { emulatorS3, postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';

let pages: PageServer;
let stack: LocalStack;
let s3: S3Client;

beforeAll(async () => {
  pages = await servePages({ '/page': html('<h1>semantics</h1>') });
  stack = await startTestStack({ allow: [pages.hostPort], workerConcurrency: 2 });
  s3 = emulatorS3(stack.emulator);
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await stack?.stop();
  await pages?.close();
});

const statusOf = (error: unknown) => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

describe('a read of a missing key answers 403 AccessDenied, as S3 does to a role without s3:ListBucket', () => {
  it('the middleware answers 403 AccessDenied to a function, and the emulator 404 NoSuchKey to anyone else', async () => {
    const read = new GetObjectCommand({ Bucket: stack.emulator.bucket, Key: `status/${randomUUID()}.json` });
    const asApi = await asFunction('api', () => s3.send(read)).catch((e: unknown) => e);
    expect({ name: (asApi as Error).name, status: statusOf(asApi) }).toEqual({ name: 'AccessDenied', status: 403 });
    const asTest = await s3.send(read).catch((e: unknown) => e);
    expect({ name: (asTest as Error).name, status: statusOf(asTest) }).toEqual({ name: 'NoSuchKey', status: 404 });
  });

  it('unknown ids answer 404 on GET /screenshots/{id}, /screenshots/{id}/receipt and /batches/{id}', async () => {
    const id = randomUUID();
    for (const path of [`/screenshots/${id}`, `/screenshots/${id}/receipt`, `/batches/${id}`]) {
      const res = await fetch(`${stack.apiUrl}${path}`);
      expect.soft({ path, status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code }).toEqual({
        path,
        status: 404,
        code: 'not_found',
      });
    }
  });

  it('compareTo an unknown id is a 400 that says so', async () => {
    const { res, json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/page`, compareTo: randomUUID() });
    expect(res.status).toBe(400);
    expect((json.error as { code: string }).code).toBe('compare_unavailable');
  });

  it("the chapter's {id, url} message (no status record before it) is rendered, not retried as internal_error", async () => {
    const id = randomUUID();
    const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: stack.emulator.endpoint, credentials: stack.emulator.credentials });
    await sqs.send(
      new SendMessageCommand({ QueueUrl: stack.emulator.queueUrl, MessageBody: JSON.stringify({ id, url: `${pages.origin}/page` }) }),
    );
    sqs.destroy();
    const status = await eventually(
      async () => (await fetch(`${stack.apiUrl}/screenshots/${id}`)).json() as Promise<{ status?: string; error?: unknown }>,
      (body) => body.status === 'done' || body.status === 'failed',
      90_000,
    );
    expect(status).toMatchObject({ status: 'done' });
  }, 120_000);

  it("an expired html document is a permanent invalid_job, and compareTo's expired image a permanent compare_unavailable", async () => {
    const bucket = stack.emulator.bucket;
    const inputs = new S3HtmlInputs(s3, bucket);
    const gone = asFunction('worker', () => inputs.get({ key: `inputs/${randomUUID()}.html`, sha256: '0'.repeat(64) }));
    await expect(gone).rejects.toMatchObject({ name: 'PermanentFailure', code: 'invalid_job' });
    const store = new S3ScreenshotStore(s3, bucket);
    const earlier = randomUUID();
    const now = new Date().toISOString();
    await store.putStatus({
      id: earlier,
      status: 'done',
      url: 'https://example.com/',
      requestedAt: now,
      updatedAt: now,
      imageKey: `images/${earlier}.png`,
      contentType: 'image/png',
    } as never);
    const job = newJob('https://example.com/', { compareTo: earlier });
    const compared = asFunction('worker', () =>
      new ImageComparer(s3, bucket, store).compare(job, { bytes: new Uint8Array(8), contentType: 'image/png' }),
    );
    await expect(compared).rejects.toMatchObject({ name: 'PermanentFailure', code: 'compare_unavailable' });
  });

  it('cache: true misses, renders, then hits (the first lookup reads a missing index key)', async () => {
    const body = { url: `${pages.origin}/page`, cache: true, width: 640, height: 360 };
    const first = await postScreenshot(stack.apiUrl, body);
    expect(first.res.status).toBe(202);
    expect((await waitForSettled(first.json.statusUrl as string, 90_000)).status).toBe('done');
    const second = await postScreenshot(stack.apiUrl, body);
    expect(second.res.status).toBe(200);
    expect(second.json.id).toBe(first.json.id);
  }, 120_000);
});

describe("the batch webhook's exactly-once claim: the second If-None-Match: * write gets 412", () => {
  it('the middleware answers 412 PreconditionFailed to a conditional write on an existing key', async () => {
    const Key = `batches/${randomUUID()}.webhook.json`;
    const put = () =>
      asFunction('worker', () => s3.send(new PutObjectCommand({ Bucket: stack.emulator.bucket, Key, Body: '{}', IfNoneMatch: '*' })));
    await put();
    const second = await put().catch((e: unknown) => e);
    expect({ name: (second as Error).name, status: statusOf(second) }).toEqual({ name: 'PreconditionFailed', status: 412 });
  });

  it('five workers settling the last jobs of a batch at once send its webhook once', async () => {
    const bucket = stack.emulator.bucket;
    const store = new S3ScreenshotStore(s3, bucket);
    const batchId = randomUUID();
    const jobIds = [randomUUID(), randomUUID()];
    const now = new Date().toISOString();
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `batches/${batchId}.json`,
        Body: JSON.stringify({ id: batchId, requestedAt: now, jobIds, callbackUrl: 'https://hooks.example/batch' }),
      }),
    );
    for (const id of jobIds) {
      await store.putStatus({
        id,
        status: 'failed',
        url: 'https://example.com/',
        requestedAt: now,
        updatedAt: now,
        error: { code: 'http_error', message: 'gone' },
      } as never);
    }
    const sent: BatchWebhookPayload[] = [];
    // claimSettleMs 0: nothing but the conditional write can keep a second worker from sending.
    const deps = {
      s3,
      bucket,
      store,
      presignTtlSeconds: 60,
      claimSettleMs: 0,
      deliver: async (_url: string, p: BatchWebhookPayload) => sent.push(p),
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => asFunction('worker', () => onBatchJobSettled(batchId, deps))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ batchId, status: 'partial', counts: { total: 2, failed: 2 } });
    // And a late worker (a redelivery) finds the marker and sends nothing.
    expect(await asFunction('worker', () => onBatchJobSettled(batchId, deps))).toBe(false);
    expect(sent).toHaveLength(1);
  });
});
