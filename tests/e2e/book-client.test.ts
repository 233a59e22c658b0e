// The chapter's own client puts {"id": <uuid>, "url": <url>} straight on the queue (no API, no
// version): the worker renders it under that id and GET /screenshots/{id} serves it.
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION } from '../../local/emulator.js';
import type { LocalStack } from '../../local/stack.js';
import { imageSize } from '../support/images.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import type { ScreenshotStatus } from '../../lib/contract/status.js';
import { startTestStack } from '../support/stack.js';

let pages: PageServer;
let stack: LocalStack;
let sqs: SQSClient;

beforeAll(async () => {
  pages = await servePages({ '/book': html('<h1>From the book</h1>') });
  stack = await startTestStack({ allow: [pages.hostPort] });
  sqs = new SQSClient({ region: LOCAL_REGION, endpoint: stack.emulator.endpoint, credentials: stack.emulator.credentials });
});

afterAll(async () => {
  sqs?.destroy();
  await stack?.stop();
  await pages?.close();
});

/** GET /screenshots/{id} until it is settled: 404 while the worker has not written a status yet. */
async function settled(id: string, timeoutMs = 30_000): Promise<{ code: number; body: ScreenshotStatus }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${stack.apiUrl}/screenshots/${id}`);
    const body = (await res.json()) as ScreenshotStatus;
    if ((res.status === 200 && body.status !== 'queued') || Date.now() > until) return { code: res.status, body };
    await new Promise((r) => setTimeout(r, 100));
  }
}

const send = (body: string) => sqs.send(new SendMessageCommand({ QueueUrl: stack.emulator.queueUrl, MessageBody: body }));

describe("the book's client: {id, url} on the jobs queue", () => {
  it('is rendered with default options and served under its id', async () => {
    const id = randomUUID();
    // Exactly what the chapter's index.js sends: JSON.stringify({ id, url }).
    await send(JSON.stringify({ id, url: `${pages.origin}/book` }));

    const { code, body } = await settled(id);
    expect(code).toBe(200);
    expect(body).toMatchObject({ id, status: 'done', url: `${pages.origin}/book` });
    const image = await fetch(body.imageUrl!);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(imageSize(new Uint8Array(await image.arrayBuffer()))).toEqual({ width: 1280, height: 800 }); // the defaults
  });

  it('a chapter message with a bad url fails under its id, saying what is wrong', async () => {
    const id = randomUUID();
    await send(JSON.stringify({ id, url: 'not a url' }));
    const { code, body } = await settled(id);
    expect(code).toBe(200);
    expect(body.status).toBe('failed');
    expect(body.error).toEqual({ code: 'invalid_job', message: expect.stringMatching(/url/) });
  });
});
