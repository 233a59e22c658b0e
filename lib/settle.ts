// One job message -> a settled job (done or failed) or a TransientFailure thrown for redelivery.
// The only place that turns a failure class into what happens to the message and the status.
import { classifyFailure, TransientFailure } from './failures.js';
import { decodeJob, salvageJobId, type Job } from './job.js';
import type { RenderedImage, RenderInput } from './render.js';
import type { ScreenshotStore, StatusRecord } from './store.js';

export interface Delivery {
  body: string;
  /** SQS ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount: number;
  /** Time left in the invocation, in ms. */
  remainingMs: () => number;
}

export interface SettleDeps {
  store: ScreenshotStore;
  render: (input: RenderInput) => Promise<RenderedImage>;
  renderTimeoutMs: number;
  maxReceiveCount: number;
  now?: () => Date;
}

export type Outcome = { status: 'done' | 'failed' | 'already_done'; id?: string; code?: string };

/** What is left of the invocation must cover a whole render plus the writes after it. */
const WRITE_MARGIN_MS = 1500;

export async function settleJob(delivery: Delivery, deps: SettleDeps): Promise<Outcome> {
  const now = deps.now ?? (() => new Date());
  let job: Job;
  try {
    job = decodeJob(delivery.body);
  } catch (error) {
    const failure = classifyFailure(error);
    const id = salvageJobId(delivery.body);
    // An id we can read means a client may be polling it: tell them, never leave it queued.
    if (id) await deps.store.putStatus(failedRecord({ id, url: '', requestedAt: now().toISOString() }, failure, now()));
    return { status: 'failed', id, code: failure.code };
  }

  const existing = await deps.store.getStatus(job.id);
  if (existing?.status === 'done') return { status: 'already_done', id: job.id };

  try {
    if (delivery.remainingMs() < deps.renderTimeoutMs + WRITE_MARGIN_MS) {
      throw new TransientFailure('not_enough_time', 'not enough invocation time left to render; retried later');
    }
    const image = await deps.render({ url: job.url, options: job.options });
    const key = await deps.store.putImage(job.id, image.bytes, image.contentType, image.extension);
    await deps.store.putStatus({
      id: job.id,
      status: 'done',
      url: job.url,
      requestedAt: job.requestedAt,
      updatedAt: now().toISOString(),
      imageKey: key,
      contentType: image.contentType,
    });
    return { status: 'done', id: job.id };
  } catch (error) {
    const failure = classifyFailure(error);
    const lastTry = delivery.receiveCount >= deps.maxReceiveCount;
    if (failure.kind === 'permanent' || lastTry) {
      await deps.store.putStatus(failedRecord(job, failure, now()));
    }
    if (failure.kind === 'permanent') return { status: 'failed', id: job.id, code: failure.code };
    throw new TransientFailure(failure.code, failure.message, { cause: error });
  }
}

function failedRecord(
  job: Pick<Job, 'id' | 'url' | 'requestedAt'>,
  failure: { code: string; message: string },
  at: Date,
): StatusRecord {
  return {
    id: job.id,
    status: 'failed',
    url: job.url,
    requestedAt: job.requestedAt,
    updatedAt: at.toISOString(),
    error: { code: failure.code, message: failure.message },
  };
}
