// The worker's long-lived parts, built once per process (per Lambda container) and reused by
// every invocation: S3 client, egress proxy, browser, concurrency limit.
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import { clientSettings } from '../storage/aws.js';
import { AdaptiveLimit } from './adaptive-concurrency.js';
import { PageReserve } from '../capture/isolated-page.js';
import { BrowserHost, type BrowserSettings } from '../capture/browser.js';
import type { Config } from '../contract/config.js';
import { EgressGuard, startEgressProxy, type EgressProxy, type Resolver } from '../egress/egress.js';
import { ImageComparer } from './compare.js';
import type { Job } from '../contract/job.js';
import { renderScreenshot, type RenderedImage } from '../capture/render.js';
import { receiptKeyLoader } from '../receipts/receipt-key.js';
import { S3Receipts } from '../receipts/receipts.js';
import { S3ResultCache, type ResultCache } from '../storage/cache.js';
import { useBundledFonts } from '../capture/fonts.js';
import { S3HtmlInputs } from '../storage/html-inputs.js';
import { batchMemberSettled, indexCachedResult, onSettled, type OnSettledDeps } from './on-settled.js';
import { retryAfter, retryDelaySeconds } from './retry.js';
import { settleJob, type Delivery, type JobLog, type SettleOutcome, type Settled } from './settle.js';
import { S3ScreenshotStore, type ScreenshotStore } from '../storage/store.js';
import { EgressAllowList } from '../egress/url-policy.js';

export interface WorkerRuntime {
  settle(delivery: Delivery): Promise<SettleOutcome>;
  /**
   * A record that failed transiently comes back after a short backoff instead of the visibility
   * timeout; answers the seconds set. Its errors are the caller's to log (the record then simply
   * returns after the visibility timeout).
   */
  retryLater(receiptHandle: string, receiveCount: number): Promise<number>;
  readonly browsers: BrowserHost;
  readonly proxy: EgressProxy;
  /** Pages allowed at once now, and the most so far. */
  concurrency(): { limit: number; peak: number };
  close(): Promise<void>;
}

/** A fixed count, with the adaptive limit's face. */
function pinnedLimit(n: number): Pick<AdaptiveLimit, 'run' | 'limit' | 'peak' | 'stop'> {
  const limit = pLimit(n);
  return { run: (work) => limit(work), limit: n, peak: n, stop: () => undefined };
}

export async function createWorkerRuntime(
  cfg: Config,
  overrides: {
    store?: ScreenshotStore;
    receipts?: Pick<S3Receipts, 'issue'>;
    resolver?: Resolver;
    onBrowserEvent?: BrowserSettings['onEvent'];
    cache?: ResultCache;
    webhook?: OnSettledDeps['webhook'];
    log?: OnSettledDeps['log'];
  } = {},
): Promise<WorkerRuntime> {
  const s3 = new S3Client(clientSettings(cfg));
  const store = overrides.store ?? new S3ScreenshotStore(s3, cfg.bucket);
  const receipts = overrides.receipts ?? new S3Receipts(s3, cfg.bucket);
  const receiptKey = receiptKeyLoader(cfg);
  const comparer = new ImageComparer(s3, cfg.bucket, store);
  const inputs = new S3HtmlInputs(s3, cfg.bucket);
  const guard = new EgressGuard(new EgressAllowList(cfg.egressAllow), overrides.resolver);
  const proxy = await startEgressProxy(guard);
  useBundledFonts(); // CJK, colour emoji and Latin from npm (lib/capture/fonts.ts), here and on Lambda alike
  const browsers = new BrowserHost({
    executablePath: cfg.chromiumPath,
    singleProcess: cfg.singleProcess,
    proxy,
    scratchRoot: cfg.chromiumScratchDir,
    rendererHeapMb: cfg.rendererHeapMb,
    onEvent: overrides.onBrowserEvent,
  });
  // Each job takes a page opened ahead of it (lib/capture/isolated-page.ts); single-process
  // Chromium has no contexts to open ahead, and opens each job's page when the job starts.
  const pages = cfg.singleProcess ? undefined : new PageReserve(proxy);
  // Pages at once: pinned by URL2PNG_RENDER_CONCURRENCY, else moved by the controller between
  // the CPU-derived floor and what the memory holds, following what the pages wait on.
  // Single-process Chromium has one cookie jar, cache and storage for all its pages: one page at a
  // time, and the browser's per-site state cleared after each (lib/capture/site-state.ts).
  const limit = cfg.singleProcess
    ? pinnedLimit(1)
    : cfg.renderConcurrencyPinned
      ? pinnedLimit(cfg.renderConcurrency)
      : new AdaptiveLimit({ floor: cfg.renderConcurrency, ceiling: cfg.renderConcurrencyCeiling, vcpus: cfg.vcpus });
  const settledDeps: OnSettledDeps = {
    store,
    cache: overrides.cache ?? new S3ResultCache(s3, cfg.bucket),
    guard,
    webhookSecret: cfg.webhookSecret,
    presignTtlSeconds: cfg.presignTtlSeconds,
    webhook: overrides.webhook,
    log: overrides.log,
    batches: { s3, bucket: cfg.bucket, store, presignTtlSeconds: cfg.presignTtlSeconds },
  };
  const afterSettled = onSettled(settledDeps);
  const deps = {
    store,
    // An html job's document waits in the bucket (lib/storage/html-inputs.ts).
    render: async (input: Parameters<typeof renderScreenshot>[0], job: Job) =>
      renderScreenshot(
        { ...input, requestedAt: job.requestedAt, html: job.html ? await inputs.get(job.html) : undefined },
        { browsers, guard, proxy, pages },
        { timeoutMs: cfg.renderTimeoutMs, loadTimeoutMs: cfg.loadTimeoutMs },
      ),
    completeCapture: async (job: Job, image: RenderedImage) => {
      const diff = await comparer.compare(job, image);
      await receipts.issue(job, image, receiptKey);
      return diff ? { diff } : {};
    },
    renderTimeoutMs: cfg.renderTimeoutMs,
    maxReceiveCount: cfg.maxReceiveCount,
    beforeDone: indexCachedResult(settledDeps),
    onAlreadyDone: batchMemberSettled(settledDeps),
  };
  const sqs = new SQSClient(clientSettings(cfg));
  return {
    async settle(delivery) {
      // The webhook and the batch check run after the job leaves its render slot: a slow
      // receiver never holds a page slot, and the invocation still waits for it (bounded by the
      // time it has left) because Lambda freezes whatever runs after it returns.
      let after: Promise<void> | undefined;
      const later = (job: Job, settled: Settled, log?: JobLog) => {
        after = afterSettled(job, settled, log, delivery.remainingMs).catch(() => undefined);
        return Promise.resolve();
      };
      try {
        return await limit.run(() => settleJob(delivery, { ...deps, onSettled: later }));
      } finally {
        await after;
      }
    },
    async retryLater(receiptHandle, receiveCount) {
      const seconds = retryDelaySeconds(receiveCount, {
        baseS: cfg.retryBackoffS,
        maxS: cfg.retryBackoffMaxS,
        visibilityTimeoutS: cfg.visibilityTimeoutSeconds,
      });
      await retryAfter(sqs, cfg.queueUrl, receiptHandle, seconds);
      return seconds;
    },
    concurrency: () => ({ limit: limit.limit, peak: limit.peak }),
    browsers,
    proxy,
    async close() {
      limit.stop();
      sqs.destroy();
      await pages?.close();
      await browsers.close();
      await proxy.close();
    },
  };
}
