// Recording a job as failed, shared by the worker (a render that failed for good), the redrive
// (a message it cannot run again) and the API (a batch item it could not queue). It lives in storage
// so the API reaches it without any worker code in its bundle.
import type { Failure } from '../contract/failures.js';
import type { Job } from '../contract/job.js';
import type { Problem } from '../contract/problem.js';
import type { StatusRecord } from '../contract/status.js';
import type { ScreenshotStore } from './store.js';

/**
 * Writes `failed` unless the job is already `done`: a slower duplicate delivery (or a late
 * last-receive) must not turn an existing image into a failure. `done` always wins.
 */
export async function writeFailed(
  store: ScreenshotStore,
  job: Pick<Job, 'id' | 'url' | 'requestedAt'>,
  failure: Pick<Failure, 'code' | 'message'>,
  at: Date,
): Promise<boolean> {
  const existing = await store.getStatus(job.id);
  if (existing?.status === 'done') return false;
  await store.putStatus(
    failedRecord({ ...job, url: job.url || existing?.url || '', requestedAt: existing?.requestedAt ?? job.requestedAt }, failure, at),
  );
  return true;
}

function failedRecord(job: Pick<Job, 'id' | 'url' | 'requestedAt'>, failure: Problem, at: Date): StatusRecord {
  return {
    id: job.id,
    status: 'failed',
    url: job.url,
    requestedAt: job.requestedAt,
    updatedAt: at.toISOString(),
    error: { code: failure.code, message: failure.message },
  };
}
