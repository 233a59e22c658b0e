// The API's two use cases, free of HTTP: submit a request, read a job's status.
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { clientSettings } from '../storage/aws.js';
import type { Config } from '../contract/config.js';
import { type CacheEntry, cacheKey, isFresh, S3ResultCache, type ResultCache } from '../storage/cache.js';
import { HTML_JOB_URL, htmlDigest, S3HtmlInputs, type HtmlInputs } from '../storage/html-inputs.js';
import { newJob, newJobId, type Job } from '../contract/job.js';
import { oversizedMessage, SqsJobQueue, type JobQueue } from '../storage/queue.js';
import type { Receipt } from '../receipts/receipt.js';
import { publicReceiptKeyLoader, type ReceiptKey } from '../receipts/receipt-key.js';
import { S3Receipts } from '../receipts/receipts.js';
import { cacheTtlSeconds, screenshotOptionsSchema, type ScreenshotRequest } from '../contract/request.js';
import { type JobState, presentDiff, type ScreenshotStatus } from '../contract/status.js';
import { S3ScreenshotStore, type ScreenshotStore } from '../storage/store.js';

export interface ApiDeps {
  store: ScreenshotStore;
  queue: JobQueue;
  presignTtlSeconds: number;
  cache?: ResultCache;
  receipts: S3Receipts;
  /** The public half only: the API never holds the signing key. */
  receiptKey: () => Promise<Pick<ReceiptKey, 'publicKey' | 'keyId'>>;
  inputs: HtmlInputs;
}

/** The API's deps, with the bucket and its one S3 client for batch records (lib/api/batches.ts). */
export function createApiDeps(cfg: Config): ApiDeps & { s3: S3Client; bucket: string } {
  const settings = clientSettings(cfg);
  const s3 = new S3Client(settings); // one client (one connection pool) for status, images and cache
  return {
    store: new S3ScreenshotStore(s3, cfg.bucket),
    queue: new SqsJobQueue(new SQSClient(settings), cfg.queueUrl),
    presignTtlSeconds: cfg.presignTtlSeconds,
    cache: new S3ResultCache(s3, cfg.bucket),
    receipts: new S3Receipts(s3, cfg.bucket),
    receiptKey: publicReceiptKeyLoader(cfg),
    inputs: new S3HtmlInputs(s3, cfg.bucket),
    s3,
    bucket: cfg.bucket,
  };
}

/** A request whose job would not fit in one queue message: the caller must send less (413). */
export class JobTooLarge extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobTooLarge';
  }
}

/** Throws JobTooLarge for a job SQS would refuse, before anything about it is written. */
export function refuseOversizedJob(job: Job, field?: string): void {
  const problem = oversizedMessage(job);
  if (problem) throw new JobTooLarge(field ? `${field}: ${problem}` : problem);
}

/** Records the job as queued (so GET knows the id) and then puts it on the queue. */
export async function submitScreenshot(request: ScreenshotRequest, deps: ApiDeps): Promise<Job> {
  const { url, html, ...options } = request;
  const id = newJobId();
  const job = newJob(url ?? HTML_JOB_URL, options, new Date(), id);
  refuseOversizedJob(job);
  // The document goes to the bucket before the job exists anywhere, so no job can miss it.
  if (html !== undefined) job.html = await deps.inputs.put(id, html);
  await enqueueJob(job, deps);
  return job;
}

/** Records the job as queued (so GET knows the id), then puts it on the queue. */
export async function enqueueJob(job: Job, deps: Pick<ApiDeps, 'store' | 'queue'>): Promise<void> {
  await deps.store.putStatus({
    id: job.id,
    status: 'queued',
    url: job.url,
    requestedAt: job.requestedAt,
    updatedAt: job.requestedAt,
  });
  await deps.queue.send(job);
}

/** The job's status, with a short-lived image URL when it is done; undefined for an unknown id. */
export async function readScreenshot(
  id: string,
  deps: Pick<ApiDeps, 'store' | 'presignTtlSeconds'>,
): Promise<ScreenshotStatus | undefined> {
  const record = await deps.store.getStatus(id);
  if (!record) return undefined;
  const { imageKey, diff, extractsKey, ...body } = record;
  if (record.status === 'done' && imageKey) {
    const presign = (key: string) => deps.store.presignImage(key, deps.presignTtlSeconds);
    return {
      ...body,
      imageUrl: await presign(imageKey),
      ...(diff ? { diff: await presentDiff(diff, presign) } : {}),
      ...(extractsKey ? { extractsUrl: await presign(extractsKey) } : {}),
    };
  }
  return body;
}

/**
 * A request with `cache` whose identical earlier result exists and is fresh: that job's done
 * status, so the API can answer at once without rendering. undefined: queue a new job.
 */
export async function findCachedScreenshot(
  request: ScreenshotRequest,
  deps: ApiDeps,
  now = new Date(),
): Promise<(ScreenshotStatus & { cached: true }) | undefined> {
  const found = await findCacheEntry(request, deps, now);
  if (!found) return undefined;
  const body = await readScreenshot(found.entry.id, deps);
  return body?.status === 'done' && body.imageUrl ? { ...body, cached: true } : undefined;
}

/** The request's cache key: every field that changes the image (lib/storage/cache.ts). */
export function requestCacheKey(request: ScreenshotRequest): string {
  const { url, html, ...options } = request;
  return cacheKey(url ?? HTML_JOB_URL, screenshotOptionsSchema.parse(options), html === undefined ? undefined : htmlDigest(html));
}

/** The fresh cache entry of a request with `cache`, whose job's record (same lifecycle as its image) still says done. */
export async function findCacheEntry(
  request: ScreenshotRequest,
  deps: Pick<ApiDeps, 'cache' | 'store'>,
  now = new Date(),
): Promise<{ entry: CacheEntry; key: string } | undefined> {
  const ttl = cacheTtlSeconds(request.cache);
  if (!deps.cache || ttl === 0) return undefined;
  const key = requestCacheKey(request);
  const entry = await deps.cache.get(key);
  if (!entry || !isFresh(entry, ttl, now)) return undefined;
  const record = await deps.store.getStatus(entry.id);
  return record?.status === 'done' && record.imageKey ? { entry, key } : undefined;
}

/**
 * A done job's signed receipt. `not_done` when the job has not (or not successfully) finished,
 * `missing` for a done job without one (done before receipts existed, or its receipt expired).
 */
export async function readReceipt(
  id: string,
  deps: ApiDeps,
): Promise<{ receipt: Receipt } | { problem: 'unknown' | 'missing' } | { problem: 'not_done'; status: JobState }> {
  const record = await deps.store.getStatus(id);
  if (!record) return { problem: 'unknown' };
  if (record.status !== 'done') return { problem: 'not_done', status: record.status };
  const receipt = await deps.receipts.get(id);
  return receipt ? { receipt } : { problem: 'missing' };
}

/**
 * compareTo must name a screenshot that exists and has not failed (a queued one is fine: it may be
 * done by the time the new one is rendered). A message for the client, or undefined.
 */
export async function refuseCompareTo(request: ScreenshotRequest, deps: ApiDeps): Promise<string | undefined> {
  if (!request.compareTo) return undefined;
  const earlier = await deps.store.getStatus(request.compareTo);
  if (!earlier) return `compareTo: no screenshot with id ${request.compareTo} (unknown, or expired); use the id of a done PNG screenshot`;
  if (earlier.status === 'failed')
    return `compareTo: the screenshot ${request.compareTo} failed (${earlier.error?.code ?? 'unknown'}); use the id of a done PNG screenshot`;
  if (earlier.status === 'done' && earlier.contentType !== 'image/png')
    return `compareTo: the screenshot ${request.compareTo} is ${earlier.contentType}, not a PNG; compareTo compares PNG images only`;
  return undefined;
}
