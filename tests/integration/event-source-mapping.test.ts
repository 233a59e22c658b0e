// The local event source mapping against the emulator's SQS over HTTP, with a function of the
// test's own that holds the records it is given until the test lets them go.
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, startEmulator, type Emulator } from '../../local/emulator.js';
import { startEventSourceMapping, type EventSourceMapping } from '../../local/event-source-mapping.js';
import { eventually } from '../support/eventually.js';
import { queueDepth } from '../reliability/harness.js';

let emulator: Emulator;
let sqs: SQSClient;
let mapping: EventSourceMapping | undefined;
/** Invocations the test's function holds, and how to let each go. */
const held: Array<{ event: SQSEvent; done: (r: SQSBatchResponse) => void }> = [];

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, visibilityTimeoutS: 60 });
  sqs = new SQSClient({ region: LOCAL_REGION, endpoint: emulator.endpoint, credentials: emulator.credentials });
});

afterAll(async () => {
  for (const h of held.splice(0)) h.done({ batchItemFailures: [] }); // a poller waits on each
  await mapping?.stop();
  await emulator?.stop();
});

describe('event source mapping: records in hand, not batches, bound the work', () => {
  it('the short batches that start a burst leave their room to the other pollers; records held never pass the bound; all are deleted once done', async () => {
    const holding = () => held.reduce((n, h) => n + h.event.Records.length, 0);
    let mostHeld = 0;
    mapping = startEventSourceMapping({
      sqs,
      queueUrl: emulator.queueUrl,
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:q',
      region: LOCAL_REGION,
      batchSize: 10,
      batchingWindowS: 0,
      concurrency: 16,
      maxRecordsInFlight: 12,
      invoke: (event) =>
        new Promise((done) => {
          held.push({ event, done });
          mostHeld = Math.max(mostHeld, holding());
        }),
    });
    // One record at a time: each receive returns a batch of one.
    for (let i = 0; i < 5; i++) {
      await sqs.send(new SendMessageCommand({ QueueUrl: emulator.queueUrl, MessageBody: `single ${i}` }));
      await eventually(
        () => holding(),
        (n) => n === i + 1,
        5000,
      );
    }
    // Five invocations of one record each: had a poller kept a whole batch's room for a batch of
    // one, 12 records of room would have allowed two.
    expect(held.map((h) => h.event.Records.length)).toEqual([1, 1, 1, 1, 1]);

    // A burst: the rest of the room fills at once, and no further.
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: emulator.queueUrl,
        Entries: Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: `burst ${i}` })),
      }),
    );
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: emulator.queueUrl,
        Entries: Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: `burst ${10 + i}` })),
      }),
    );
    await eventually(
      () => holding(),
      (n) => n === 12,
      5000,
    );
    await sleep(300); // long enough for a poller to overreach, if one would
    expect(mostHeld).toBe(12);

    // Let every invocation go as it comes: everything is received, done and deleted, still never
    // more than 12 records held at once.
    const release = setInterval(() => {
      for (const h of held.splice(0)) h.done({ batchItemFailures: [] });
    }, 20);
    try {
      await eventually(
        () => queueDepth(sqs, emulator.queueUrl),
        (n) => n === 0,
        10_000,
      );
    } finally {
      clearInterval(release);
    }
    expect(mostHeld).toBe(12);
    expect(mapping.invocations).toBeGreaterThanOrEqual(7); // 5 singles, then at least ceil(20 / 10)
  });
});
