// What comes with a settled job: a done job that asked for caching becomes the cache's answer for
// its request (before its status says done), and a job with a callbackUrl gets its webhook (after).
// Errors here never fail the job.
import { onBatchJobSettled, type BatchSettleDeps } from '../api/batches.js';
import { cacheKey, type ResultCache } from '../storage/cache.js';
import type { EgressGuard } from '../egress/egress.js';
import type { Job } from '../contract/job.js';
import { cacheTtlSeconds } from '../contract/request.js';
import type { JobLog, Settled } from './settle.js';
import type { ScreenshotStore } from '../storage/store.js';
import { presentDiff, type WebhookPayload } from '../contract/status.js';
import { deliverWebhook, type DeliveryResult, type WebhookSettings } from './webhook.js';

export interface OnSettledDeps {
  store: Pick<ScreenshotStore, 'presignImage'>;
  cache: ResultCache;
  guard: EgressGuard;
  webhookSecret: string;
  presignTtlSeconds: number;
  webhook?: Partial<Pick<WebhookSettings, 'attempts' | 'backoffMs' | 'timeoutMs' | 'totalMs'>>;
  /** Replaces the per-record logger (tests read the lines). */
  log?: JobLog;
  /** Jobs of a batch: where batch records live, for the batch's webhook once all have settled. */
  batches?: Omit<BatchSettleDeps, 'deliver'>;
}

/** A webhook's total deadline, every attempt and backoff included (docs/api.md, "Webhooks"). */
const WEBHOOK_TOTAL_MS = 15_000;
/** Time kept back from the invocation's remaining time for the worker to answer. */
const WEBHOOK_EXIT_MARGIN_MS = 1_000;

export function onSettled(deps: OnSettledDeps) {
  // Lines go to the logger of the record being settled (jobId, messageId, Lambda context).
  // remainingMs: the invocation's time left; the webhook's total deadline stays inside it.
  return async (job: Job, settled: Settled, recordLog?: JobLog, remainingMs: () => number = () => Infinity): Promise<void> => {
    const log = deps.log ?? recordLog;
    await batchMemberSettled(deps)(job, log);
    const callbackUrl = job.options.callbackUrl;
    if (!callbackUrl) return;
    if (!deps.webhookSecret) {
      log?.('webhook skipped: URL2PNG_WEBHOOK_SECRET is not set', { jobId: job.id });
      return;
    }
    const payload: WebhookPayload =
      settled.status === 'done'
        ? {
            id: job.id,
            status: 'done',
            imageUrl: await deps.store.presignImage(settled.imageKey, deps.presignTtlSeconds),
            ...(settled.diff
              ? { diff: await presentDiff(settled.diff, (key) => deps.store.presignImage(key, deps.presignTtlSeconds)) }
              : {}),
            ...(settled.quality ? { quality: settled.quality } : {}),
            ...(settled.metadata ? { metadata: settled.metadata } : {}),
            ...(settled.extractsKey ? { extractsUrl: await deps.store.presignImage(settled.extractsKey, deps.presignTtlSeconds) } : {}),
          }
        : { id: job.id, status: 'failed', error: settled.error };
    const totalMs = Math.min(deps.webhook?.totalMs ?? WEBHOOK_TOTAL_MS, remainingMs() - WEBHOOK_EXIT_MARGIN_MS);
    const result: DeliveryResult = await deliverWebhook(callbackUrl, payload, {
      secret: deps.webhookSecret,
      guard: deps.guard,
      ...deps.webhook,
      totalMs,
    });
    log?.(result.delivered ? 'webhook delivered' : 'webhook not delivered', { jobId: job.id, ...result });
  };
}

/**
 * A done job that asked for caching becomes the cache's answer for its request. It runs before the
 * status says done, so a client that has seen `done` gets a hit on the same request at once; an
 * entry whose job is not done yet is no hit (lib/api/screenshots.ts reads the job's record too).
 */
export function indexCachedResult(deps: Pick<OnSettledDeps, 'cache' | 'log'>) {
  return async (job: Job, settled: Settled, recordLog?: JobLog): Promise<void> => {
    if (settled.status !== 'done' || cacheTtlSeconds(job.options.cache) === 0) return;
    const log = deps.log ?? recordLog;
    await deps.cache
      .put(cacheKey(job.url, job.options, job.html?.sha256), {
        id: job.id,
        imageKey: settled.imageKey,
        contentType: settled.contentType,
        renderedAt: settled.at.toISOString(),
      })
      .catch((error: Error) => log?.('cache index not written', { jobId: job.id, reason: error.message }));
  };
}

/** A job of a batch settled (or was found done again on a redelivery): the batch may have settled. */
export function batchMemberSettled(deps: OnSettledDeps) {
  return async (job: Job, recordLog?: JobLog): Promise<void> => {
    const log = deps.log ?? recordLog ?? (() => undefined);
    const batches = deps.batches;
    if (!job.batchId || !batches || !deps.webhookSecret) return;
    const batchId = job.batchId;
    await onBatchJobSettled(batchId, {
      ...batches,
      deliver: async (callbackUrl, payload) => {
        const result = await deliverWebhook(callbackUrl, payload, { secret: deps.webhookSecret, guard: deps.guard, ...deps.webhook });
        log(result.delivered ? 'batch webhook delivered' : 'batch webhook not delivered', { batchId, ...result });
      },
    }).catch((error: Error) =>
      log('batch settle check failed; the next settle of one of its jobs repeats it', { batchId, jobId: job.id, reason: error.message }),
    );
  };
}
