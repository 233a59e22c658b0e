// A request whose job would not fit in one SQS message (262,144 bytes: Amazon SQS message quotas)
// is refused 413 before anything about it is written, through the HTTP API of the local stack: no
// `queued` status that would never settle, no message. A batch is refused whole, naming the item.
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION } from '../../local/emulator.js';
import type { LocalStack } from '../../local/stack.js';
import { queueDepth } from '../reliability/harness.js';
import { postScreenshot, startTestStack } from '../support/stack.js';

let stack: LocalStack;
let sqs: SQSClient;

// 20 headers of 8 KB and 50 cookies of 4 KB: each within its own limit, ~370 KB as a message.
const oversized = {
  url: 'http://127.0.0.1:9/page',
  headers: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-filler-${i}`, 'h'.repeat(8000)])),
  cookies: Array.from({ length: 50 }, (_, i) => ({ name: `c${i}`, value: 'c'.repeat(4000) })),
};

beforeAll(async () => {
  stack = await startTestStack({ allow: ['127.0.0.1:9'] });
  sqs = new SQSClient({ region: LOCAL_REGION, endpoint: stack.emulator.endpoint, credentials: stack.emulator.credentials });
});

afterAll(async () => {
  sqs?.destroy();
  await stack?.stop();
});

describe('a job larger than one queue message', () => {
  it('POST /screenshots: 413 request_too_large saying what to send less of; nothing queued', async () => {
    const { res, json } = await postScreenshot(stack.apiUrl, oversized);
    expect(res.status, JSON.stringify(json)).toBe(413);
    expect(json.error).toMatchObject({
      code: 'request_too_large',
      message: expect.stringMatching(/send fewer or shorter headers, cookies/),
    });
    expect(await queueDepth(sqs, stack.emulator.queueUrl)).toBe(0);
  });

  it('POST /batches: 413 naming the item, and none of the batch queued', async () => {
    const res = await fetch(`${stack.apiUrl}/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [{ url: 'http://127.0.0.1:9/a' }, oversized] }),
    });
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status, JSON.stringify(json)).toBe(413);
    expect(json.error.code).toBe('request_too_large');
    expect(json.error.message).toMatch(/^requests\[1\]: /);
    expect(await queueDepth(sqs, stack.emulator.queueUrl)).toBe(0);
  });
});
