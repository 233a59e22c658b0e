// One job message -> a settled job (done or failed) or a TransientFailure thrown for redelivery.
// The only place that turns a failure class (lib/contract/failures.ts) into what happens to the message
// and the status record.
import { classifyFailure, TransientFailure, type TransientCode, type Failure } from '../contract/failures.js';
import { decodeJob, salvageJobId, type Job } from '../contract/job.js';
import type { RenderedImage, RenderInput } from '../capture/render.js';
import type { Problem } from '../contract/problem.js';
import type { StatusRecord } from '../contract/status.js';
import type { ScreenshotStore } from '../storage/store.js';
import { writeFailed } from '../storage/write-failed.js';

/** Where the lines about one job go: the worker's per-record logger (Lambda context, jobId, messageId). */
export type JobLog = (message: string, detail: Record<string, unknown>) => void;

export interface Delivery {
  body: string;
  /** The per-record logger; whatever follows the job (cache, webhook) logs through it. */
  log?: JobLog;
  /** SQS ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount: number;
  /** Time left in the invocation, in ms. */
  remainingMs: () => number;
  /** When the message was sent (SQS SentTimestamp): the request time of a job that carries none. */
  sentAt?: Date;
}

export interface SettleDeps {
  store: ScreenshotStore;
  render: (input: RenderInput, job: Job) => Promise<RenderedImage>;
  renderTimeoutMs: number;
  maxReceiveCount: number;
  now?: () => Date;
  /**
   * While the image is stored, and before the status says done: what a done job must also have
   * (its signed receipt, its diff). Its errors fail the job like a render error (classified the same way).
   */
  completeCapture?: (job: Job, image: RenderedImage) => Promise<DoneExtras>;
  /** A done job, once its image and extras are stored and before its status says done (the cache index). Its errors never fail the job. */
  beforeDone?: (job: Job, settled: Settled, log?: JobLog) => Promise<void>;
  /** Once a job has its final status: the batch check and the webhook. Its errors never fail the job. */
  onSettled?: (job: Job, settled: Settled, log?: JobLog) => Promise<void>;
  /** A redelivered job that was already done: what followed its settle may not have finished. */
  onAlreadyDone?: (job: Job, log?: JobLog) => Promise<void>;
}

/** What a done status carries besides its image. */
type DoneExtras = Pick<StatusRecord, 'diff' | 'quality' | 'metadata' | 'extractsKey'>;

export type Settled =
  | ({ status: 'done'; imageKey: string; contentType: string; at: Date } & DoneExtras)
  | { status: 'failed'; error: Problem; at: Date };

async function notifySettled(deps: SettleDeps, job: Job, settled: Settled, log?: JobLog): Promise<void> {
  await deps.onSettled?.(job, settled, log).catch(() => undefined);
}

export type SettleOutcome = {
  status: 'done' | 'failed' | 'already_done';
  id?: string;
  code?: Failure['code'];
  /** done: how long the render took, and how long since the client's request. */
  renderMs?: number;
  sinceRequestMs?: number;
};

/** What is left of the invocation must cover a whole render plus the writes after it. */
export const WRITE_MARGIN_MS = 1500;

export async function settleJob(delivery: Delivery, deps: SettleDeps): Promise<SettleOutcome> {
  const now = deps.now ?? (() => new Date());
  let job: Job;
  try {
    job = decodeJob(delivery.body, delivery.sentAt);
  } catch (error) {
    const { id, code } = await recordUndecodable(deps.store, delivery.body, error, now());
    return { status: 'failed', id, code };
  }

  let existing: StatusRecord | undefined;
  try {
    // At least once delivery: a job already done is not rendered again (same keys, same answer).
    existing = await deps.store.getStatus(job.id);
    if (existing?.status === 'done') {
      await deps.onAlreadyDone?.(job, delivery.log).catch(() => undefined);
      return { status: 'already_done', id: job.id };
    }
    if (delivery.remainingMs() < deps.renderTimeoutMs + WRITE_MARGIN_MS) {
      throw new TransientFailure('not_enough_time', 'not enough invocation time left to render; retried later');
    }
    const started = Date.now();
    const image = await deps.render({ url: job.url, options: job.options }, job);
    const renderMs = Date.now() - started;
    // The image, its extracts and its receipt are independent writes: at once, so a job is done one
    // S3 round trip sooner. Only the status that says done waits for all of them.
    const [key, extracts, completed] = await Promise.all([
      deps.store.putImage(job.id, image.bytes, image.contentType, image.extension),
      image.extracts ? deps.store.putExtracts(job.id, image.extracts) : undefined,
      deps.completeCapture?.(job, image),
    ]);
    const extras: DoneExtras = {
      ...(completed ?? {}),
      ...(image.quality ? { quality: image.quality } : {}),
      ...(image.extracts?.metadata ? { metadata: image.extracts.metadata } : {}),
      ...(extracts ? { extractsKey: extracts } : {}),
    };
    const at = now();
    const done: Settled = { status: 'done', imageKey: key, contentType: image.contentType, at, ...extras };
    await deps.beforeDone?.(job, done, delivery.log).catch(() => undefined);
    await deps.store.putStatus({
      id: job.id,
      status: 'done',
      url: job.url,
      requestedAt: job.requestedAt,
      updatedAt: at.toISOString(),
      imageKey: key,
      contentType: image.contentType,
      ...extras,
      ...(image.truncated ? { truncated: true } : {}),
    });
    await notifySettled(deps, job, done, delivery.log);
    return { status: 'done', id: job.id, renderMs, sinceRequestMs: at.getTime() - Date.parse(job.requestedAt) };
  } catch (error) {
    const failure = pageBudgetSpent(classifyFailure(error), existing);
    const lastTry = delivery.receiveCount >= deps.maxReceiveCount;
    if (failure.kind === 'permanent' || lastTry) {
      // GET must never say `queued` forever: the last receive records the failure (the message
      // still goes to the DLQ, from where a redrive may yet turn it into `done`).
      const at = now();
      if (await writeFailed(deps.store, job, failure, at).catch(() => false)) {
        await notifySettled(deps, job, { status: 'failed', error: { code: failure.code, message: failure.message }, at }, delivery.log);
      }
    }
    if (failure.kind === 'permanent') return { status: 'failed', id: job.id, code: failure.code };
    // A client polling meanwhile sees why it is still queued and how often it was tried.
    if (!lastTry) await writeRetrying(deps.store, job, failure, delivery.receiveCount, now()).catch(() => undefined);
    // Not permanent (returned above), so the table lets a TransientFailure carry this code.
    throw new TransientFailure(failure.code as TransientCode, failure.message, { cause: error, lastTry });
  }
}

/**
 * Failures of the page itself (it never rendered in time, it crashed its renderer) rather than of
 * the service: a retry helps only when the cause was passing. They get PAGE_FAILURE_ATTEMPTS
 * attempts: a page that fails the same way again is failed for good (the message is deleted, so
 * it never reaches the DLQ or its redrives). Infrastructure failures (browser_crashed, aws_*,
 * a worker that died mid-job and left no lastError) keep every receive and the redrive.
 */
const PAGE_FAILURES: ReadonlySet<Failure['code']> = new Set(['render_timeout', 'page_crashed']);
export const PAGE_FAILURE_ATTEMPTS = 2;

/** The failure, made final when it is a page failure that the previous attempt (its lastError) already had. */
function pageBudgetSpent(failure: Failure, existing: StatusRecord | undefined): Failure {
  if (failure.kind !== 'transient' || !PAGE_FAILURES.has(failure.code)) return failure;
  const attempts = existing?.attempts ?? 0;
  if (existing?.status !== 'queued' || existing.lastError?.code !== failure.code || attempts + 1 < PAGE_FAILURE_ATTEMPTS) return failure;
  return {
    kind: 'permanent',
    code: failure.code,
    message: `${failure.message} (the same on ${attempts + 1} attempts: a page that keeps failing this way is not retried further)`,
  };
}

/**
 * A message that is not a job can never succeed. An id we can read means a client may be polling
 * it: record `failed` for it, never leave it queued.
 */
export async function recordUndecodable(
  store: ScreenshotStore,
  body: string,
  error: unknown,
  at: Date,
): Promise<{ id?: string; code: Failure['code'] }> {
  const failure = classifyFailure(error);
  const id = salvageJobId(body);
  if (id) await writeFailed(store, { id, url: '', requestedAt: at.toISOString() }, failure, at);
  return { id, code: failure.code };
}

/** `queued` again, with the attempts so far and the transient error of the last one; `done` always wins. */
async function writeRetrying(store: ScreenshotStore, job: Job, failure: Failure, attempts: number, at: Date): Promise<void> {
  const existing = await store.getStatus(job.id);
  if (existing?.status === 'done') return;
  await store.putStatus({
    id: job.id,
    status: 'queued',
    url: job.url,
    requestedAt: existing?.requestedAt ?? job.requestedAt,
    updatedAt: at.toISOString(),
    attempts,
    lastError: { code: failure.code, message: failure.message },
  });
}
