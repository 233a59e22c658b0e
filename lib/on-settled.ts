// What follows a settled job: a done job that asked for caching becomes the cache's answer for
// its request, and a job with a callbackUrl gets its webhook. Errors here never fail the job.
import { Logger } from '@aws-lambda-powertools/logger';
import { cacheKey, type ResultCache } from './cache.js';
import { presentDiff } from './compare.js';
import type { EgressGuard } from './egress.js';
import type { Job } from './job.js';
import { cacheTtlSeconds } from './request.js';
import type { Settled } from './settle.js';
import type { ScreenshotStore } from './store.js';
import type { WebhookPayload } from './status.js';
import { deliverWebhook, type DeliveryResult, type WebhookSettings } from './webhook.js';

export interface OnSettledDeps {
  store: Pick<ScreenshotStore, 'presignImage'>;
  cache: ResultCache;
  guard: EgressGuard;
  webhookSecret: string;
  presignTtlS: number;
  webhook?: Partial<Pick<WebhookSettings, 'attempts' | 'backoffMs' | 'timeoutMs'>>;
  log?: (message: string, detail: Record<string, unknown>) => void;
}

const logger = new Logger({ serviceName: 'url2png-worker' });
const defaultLog = (message: string, detail: Record<string, unknown>) => logger.info(message, detail);

export function onSettled(deps: OnSettledDeps) {
  deps = { ...deps, log: deps.log ?? defaultLog };
  return async (job: Job, settled: Settled): Promise<void> => {
    if (settled.status === 'done' && cacheTtlSeconds(job.options.cache) > 0) {
      await deps.cache
        .put(cacheKey(job.url, job.options), { id: job.id, imageKey: settled.imageKey, contentType: settled.contentType, renderedAt: settled.at.toISOString() })
        .catch((error: Error) => deps.log?.('cache index not written', { jobId: job.id, reason: error.message }));
    }
    const callbackUrl = job.options.callbackUrl;
    if (!callbackUrl) return;
    if (!deps.webhookSecret) {
      deps.log?.('webhook skipped: URL2PNG_WEBHOOK_SECRET is not set', { jobId: job.id });
      return;
    }
    const payload: WebhookPayload =
      settled.status === 'done'
        ? {
            id: job.id,
            status: 'done',
            imageUrl: await deps.store.presignImage(settled.imageKey, deps.presignTtlS),
            ...(settled.diff ? { diff: await presentDiff(settled.diff, (key) => deps.store.presignImage(key, deps.presignTtlS)) } : {}),
          }
        : { id: job.id, status: 'failed', error: settled.error };
    const result: DeliveryResult = await deliverWebhook(callbackUrl, payload, { secret: deps.webhookSecret, guard: deps.guard, ...deps.webhook });
    deps.log?.(result.delivered ? 'webhook delivered' : 'webhook not delivered', { jobId: job.id, ...result });
  };
}
