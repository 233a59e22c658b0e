// The worker handler as Lambda calls it, against the emulator's S3 over HTTP and a real Chromium.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJob, newJob } from '../../lib/contract/job.js';
import { startEmulator, type Emulator } from '../../local/emulator.js';
import { toSqsRecord } from '../../local/event-source-mapping.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { hangingPage, html, servePages, type PageServer } from '../../fixtures/pages.js';
import { imageSize as pngSize } from '../support/images.js';

let emulator: Emulator;
let pages: PageServer;
let s3: S3Client;
let worker: typeof import('../../handlers/worker.js');

const options = { width: 800, height: 600, fullPage: false };

beforeAll(async () => {
  pages = await servePages({ '/ok': html('<h1>fine</h1>'), '/hang': hangingPage });
  emulator = await startEmulator({ port: 0 });
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    URL2PNG_AWS_ENDPOINT: emulator.endpoint,
    URL2PNG_EMULATOR_SECRET: emulator.credentials.secretAccessKey,
    URL2PNG_BUCKET: emulator.bucket,
    URL2PNG_QUEUE_URL: emulator.queueUrl,
    URL2PNG_EGRESS_ALLOW: pages.hostPort,
    URL2PNG_RENDER_TIMEOUT_MS: '1500',
  });
  s3 = new S3Client({ region: 'us-east-1', endpoint: emulator.endpoint, forcePathStyle: true, credentials: emulator.credentials });
  worker = await import('../../handlers/worker.js');
});

afterAll(async () => {
  await worker?.closeWorkerRuntime();
  await emulator?.stop();
  await pages?.close();
});

let seq = 0;
function eventOf(bodies: string[], receiveCount = 1): SQSEvent {
  return {
    Records: bodies.map((body) =>
      toSqsRecord(
        {
          MessageId: `m-${++seq}`,
          ReceiptHandle: `r-${seq}`,
          Body: body,
          Attributes: { ApproximateReceiveCount: String(receiveCount) },
        },
        'arn:aws:sqs:us-east-1:000000000000:jobs',
        'us-east-1',
      ),
    ),
  };
}

const invoke = (event: SQSEvent, timeoutMs = 60_000) => worker.handler(event, lambdaContext('worker-test', timeoutMs));

async function status(id: string) {
  const out = await s3.send(new GetObjectCommand({ Bucket: emulator.bucket, Key: `status/${id}.json` }));
  return JSON.parse(await out.Body!.transformToString());
}

describe('worker handler (emulator S3 + real Chromium)', () => {
  it('renders a page, stores the PNG and a done status, reports no failure', async () => {
    const job = newJob(`${pages.origin}/ok`, options);
    const result = await invoke(eventOf([encodeJob(job)]));
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await status(job.id)).toMatchObject({ id: job.id, status: 'done', imageKey: `images/${job.id}.png`, contentType: 'image/png' });
    const image = await s3.send(new GetObjectCommand({ Bucket: emulator.bucket, Key: `images/${job.id}.png` }));
    expect(image.ContentType).toBe('image/png');
    expect(pngSize(await image.Body!.transformToByteArray())).toEqual({ width: 800, height: 600 });
  });

  it('reports a hanging page as a batch item failure (transient) and leaves it queued for retry, with attempts and lastError', async () => {
    const job = newJob(`${pages.origin}/hang`, options);
    const event = eventOf([encodeJob(job)]);
    const result = await invoke(event);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] });
    // Not failed before the last receive: queued, saying why and how often it was tried.
    expect(await status(job.id)).toMatchObject({ status: 'queued', attempts: 1, lastError: { code: 'render_timeout' } });
  });

  it('a poison record gets a failed status and is not retried', async () => {
    const id = '6f1c2d3e-4b5a-4c6d-8e7f-901234567890';
    const result = await invoke(eventOf([JSON.stringify({ v: 1, id, url: 42 })]));
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await status(id)).toMatchObject({ status: 'failed', error: { code: 'invalid_job' } });
  });

  it('one bad record does not fail its batch-mates', async () => {
    const good = [newJob(`${pages.origin}/ok`, options), newJob(`${pages.origin}/ok`, options)];
    const hanging = newJob(`${pages.origin}/hang`, options);
    const event = eventOf([encodeJob(good[0]!), 'not json at all', encodeJob(hanging), encodeJob(good[1]!)]);
    const result = await invoke(event);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: event.Records[2]!.messageId }]);
    for (const job of good) expect((await status(job.id)).status).toBe('done');
  });

  it('on the last allowed receive a transient failure also writes failed, so GET never stays queued', async () => {
    const job = newJob(`${pages.origin}/hang`, options);
    const event = eventOf([encodeJob(job)], 5);
    const result = await invoke(event);
    expect(result.batchItemFailures).toHaveLength(1);
    expect(await status(job.id)).toMatchObject({ status: 'failed', error: { code: 'render_timeout' } });
  });

  it('reports records it has no time left for instead of starting them', async () => {
    const job = newJob(`${pages.origin}/ok`, options);
    const event = eventOf([encodeJob(job)]);
    const result = await invoke(event, 1000); // less than one render deadline left
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.messageId }]);
    expect(pages.hits.get('/ok')).toBe(3); // only the earlier tests' renders
  });
});
