// DLQ -> jobs queue, bounded. What lands in the DLQ kept failing maxReceiveCount times in a row
// (a page down for a while, S3 out, a worker that kept dying); CloudWatch runs this when the DLQ
// alarm fires and on a schedule. Each job may be moved back `maxRedrives` times (a counter in a
// message attribute); after that its status becomes `failed` (redrive_exhausted) and the message
// is deleted. Order: send, then delete: a crash in between duplicates a job (the worker is
// idempotent), it never loses one.
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { clientSettings } from '../storage/aws.js';
import type { Config } from '../contract/config.js';
import { decodeJob, type Job } from '../contract/job.js';
import { SqsRedriveQueues, type RedriveQueues } from '../storage/queue.js';
import { recordUndecodable } from './settle.js';
import { writeFailed } from '../storage/write-failed.js';
import { S3ScreenshotStore, type ScreenshotStore } from '../storage/store.js';

/** The redrive function's SDK clients, as createApiDeps() and createWorkerRuntime() build the others'. */
export function createRedriveClients(cfg: Config): Pick<RedriveDeps, 'queues' | 'store'> {
  const settings = clientSettings(cfg);
  return {
    queues: new SqsRedriveQueues(new SQSClient(settings), cfg.queueUrl, cfg.dlqUrl),
    store: new S3ScreenshotStore(new S3Client(settings), cfg.bucket),
  };
}

export interface RedriveDeps {
  queues: RedriveQueues;
  store: ScreenshotStore;
  maxRedrives: number;
  /** Stop after this many messages (one run must fit in the function's timeout). */
  limit: number;
  now?: () => Date;
  log?: (message: string, detail: Record<string, unknown>) => void;
}

export interface RedriveReport {
  /** Moved back to the jobs queue. */
  moved: number;
  /** Out of redrives: status `failed`, message deleted. */
  exhausted: number;
  /** Already done (a duplicate of a job that succeeded): deleted. */
  alreadyDone: number;
  /** Not a job at all: recorded `failed` if an id could be read, deleted. */
  undecodable: number;
  /** Messages left in the DLQ (approximate) when the run ended. */
  remaining: number;
}

export async function redriveDeadLetters(deps: RedriveDeps): Promise<RedriveReport> {
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? (() => undefined);
  const report: RedriveReport = { moved: 0, exhausted: 0, alreadyDone: 0, undecodable: 0, remaining: 0 };
  let seen = 0;
  while (seen < deps.limit) {
    const letters = await deps.queues.receiveDeadLetters(deps.limit - seen);
    if (letters.length === 0) break;
    seen += letters.length;
    for (const letter of letters) {
      let job: Job;
      try {
        job = decodeJob(letter.body);
      } catch (error) {
        const { id, code } = await recordUndecodable(deps.store, letter.body, error, now());
        await deps.queues.deleteDeadLetter(letter.receiptHandle);
        report.undecodable++;
        log('dead letter is not a job; dropped', { jobId: id ?? 'undecodable', code });
        continue;
      }
      const status = await deps.store.getStatus(job.id);
      if (status?.status === 'done') {
        await deps.queues.deleteDeadLetter(letter.receiptHandle);
        report.alreadyDone++;
        log('dead letter already done; dropped', { jobId: job.id });
        continue;
      }
      if (letter.redrives >= deps.maxRedrives) {
        const last = status?.error ? ` (last error: ${status.error.code}: ${status.error.message})` : '';
        await writeFailed(
          deps.store,
          job,
          {
            code: 'redrive_exhausted',
            message: `the job failed on every delivery, also after ${letter.redrives} redrive(s) from the dead-letter queue${last}`,
          },
          now(),
        );
        await deps.queues.deleteDeadLetter(letter.receiptHandle);
        report.exhausted++;
        log('job out of redrives; failed', { jobId: job.id, redrives: letter.redrives });
        continue;
      }
      // Queued again: a `failed` written on the last receive is no longer the final word. Written
      // before the send, so a fast worker's `done` cannot be overwritten by it.
      await deps.store.putStatus({
        id: job.id,
        status: 'queued',
        url: job.url,
        requestedAt: job.requestedAt,
        updatedAt: now().toISOString(),
      });
      await deps.queues.requeue(letter.body, letter.redrives + 1);
      await deps.queues.deleteDeadLetter(letter.receiptHandle);
      report.moved++;
      log('job moved back to the jobs queue', { jobId: job.id, redrives: letter.redrives + 1 });
    }
  }
  report.remaining = await deps.queues.deadLetterDepth();
  return report;
}
