// submitBatch when the queue fails part-way: a fault the local emulator cannot be made to produce
// for some messages of one batch and not others, so the queue here is a fake that fails on its
// third send (injected fault), the store is in memory and the S3 client takes the batch record.
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { BatchPartlyQueued, submitBatch, type BatchDeps } from '../../lib/api/batches.js';
import type { Job } from '../../lib/contract/job.js';
import type { StatusRecord } from '../../lib/contract/status.js';

function deps(failOnSend: number) {
  const status = new Map<string, StatusRecord>();
  const sent: Job[] = [];
  let sends = 0;
  const d = {
    s3: { send: async () => ({}) } as unknown as S3Client,
    bucket: 'test',
    store: {
      putStatus: async (r: StatusRecord) => void status.set(r.id, r),
      getStatus: async (id: string) => status.get(id),
    },
    queue: {
      send: async (job: Job) => {
        if (++sends === failOnSend) throw Object.assign(new Error('SQS is unavailable'), { $metadata: { httpStatusCode: 503 } });
        sent.push(job);
      },
    },
  } as unknown as BatchDeps;
  return { d, status, sent };
}

describe('a batch the queue takes only in part (injected queue fault)', () => {
  it('is not left half-queued: the job that was not queued is failed (aws_unavailable), the others stay queued and sent', async () => {
    const { d, status, sent } = deps(3);
    const requests = Array.from({ length: 6 }, (_, i) => ({ url: `https://example.com/${i}` }));
    const error = await submitBatch({ requests } as Parameters<typeof submitBatch>[0], d).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchPartlyQueued);
    expect(error).toMatchObject({ failed: 1, total: 6 });
    expect(sent).toHaveLength(5);
    const records = [...status.values()];
    expect(records).toHaveLength(6);
    const failed = records.filter((r) => r.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.error).toMatchObject({
      code: 'aws_unavailable',
      message: expect.stringMatching(/could not be queued .*submit it again/),
    });
    // Every job the batch names is either on the queue or failed: none waits for a message that does not exist.
    expect(new Set([...sent.map((j) => j.id), failed[0]!.id]).size).toBe(6);
  });
});
