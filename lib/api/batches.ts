// Batches: up to MAX_BATCH screenshot requests submitted at once, followed as one.
//
// In the bucket: the batch record (batches/<id>.json: its job ids, its callbackUrl) written before
// any job is queued, and each job's own status record (status/<id>.json) as for a single request;
// every job message carries its batchId. The batch's status is derived on read from its jobs'
// records, so there is no shared counter to race on.
//
// The batch webhook goes out once the last job has settled. Whichever worker settles a job reads
// every job's record; if none is queued any more the batch has settled, and that worker claims the
// webhook with a marker object (batches/<id>.webhook.json):
//   1. a marker already there: someone claimed it, stop (this covers redeliveries and late workers);
//   2. PUT the marker with If-None-Match: * and a random claim token; S3 answers 412 to every writer
//      but the first, so on AWS exactly one claim succeeds;
//   3. read the marker back after a short settle time and send only if the token is ours. Emulators
//      that ignore If-None-Match (fauxqs does) let two concurrent writers both "succeed"; the last
//      write wins and both read the same token back, so still one sends. The remaining window (a
//      writer whose PUT lands later than the other's read-back) makes this at-least-once there, with
//      the marker making repeats detectable; on S3 the conditional write makes it exactly once.
//      The local runtime answers If-None-Match as S3 does (local/aws-sdk-hooks.ts), so the 412
//      branch runs in the tests too.
// A worker that settles a job and dies before the check leaves the batch to the next settle of
// any of its jobs, including the redelivery of that same job (lib/worker/settle.ts answers already_done
// and calls the batch check again).
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { isJobId, newJob, type Job } from '../contract/job.js';
import { MAX_BATCH, parseScreenshotRequest, REQUEST_FIELDS, type RequestProblem, type ScreenshotRequest } from '../contract/request.js';
import { readJson, writeJson } from '../storage/s3-json.js';
import type { ApiDeps } from './screenshots.js';
import type { ScreenshotStatus } from '../contract/status.js';
import { enqueueJob, readScreenshot, refuseOversizedJob } from './screenshots.js';
import { writeFailed } from '../storage/write-failed.js';
import { type EgressAllowList, MAX_URL_LENGTH, refuseUnsafeUrl } from '../egress/url-policy.js';

interface BatchRecord {
  id: string;
  requestedAt: string;
  jobIds: string[];
  callbackUrl?: string;
}

type BatchStatus = 'queued' | 'done' | 'partial';

export interface BatchBody {
  id: string;
  status: BatchStatus;
  requestedAt: string;
  counts: { total: number; queued: number; done: number; failed: number };
  jobs: Array<Pick<ScreenshotStatus, 'id' | 'status' | 'url' | 'imageUrl' | 'contentType' | 'truncated' | 'error'>>;
}

const batchKey = (id: string) => `batches/${id}.json`;
const markerKey = (id: string) => `batches/${id}.webhook.json`;

export interface BatchRequest {
  requests: ScreenshotRequest[];
  callbackUrl?: string;
}

/**
 * Validates POST /batches: every item as POST /screenshots would, each problem named by its index
 * (`requests[3].width must be at most 3840 ...`).
 */
export function parseBatchRequest(
  body: unknown,
  allow: EgressAllowList,
): { ok: true; batch: BatchRequest } | { ok: false; problem: RequestProblem } {
  const fail = (code: RequestProblem['code'], message: string) => ({ ok: false as const, problem: { code, message } });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('invalid_request', 'the body must be a JSON object like {"requests": [{"url": "https://example.com"}]}');
  }
  const { requests, callbackUrl, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length)
    return fail(
      'invalid_request',
      `unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed fields are requests, callbackUrl`,
    );
  if (!Array.isArray(requests) || requests.length === 0) {
    return fail('invalid_request', 'requests must be a non-empty array of screenshot requests, e.g. [{"url": "https://example.com"}]');
  }
  if (requests.length > MAX_BATCH)
    return fail(
      'invalid_request',
      `requests must have at most ${MAX_BATCH} items (got ${requests.length}); split them into several batches`,
    );
  const parsed: ScreenshotRequest[] = [];
  for (const [index, item] of requests.entries()) {
    const result = parseScreenshotRequest(item, allow);
    if (!result.ok) return fail(result.problem.code, atIndex(index, result.problem.message));
    // An html document is stored beside its job by POST /screenshots; a batch takes pages by URL.
    if (!result.request.url)
      return fail('invalid_request', `requests[${index}].html is not available in a batch; send it with POST /screenshots, or give a url`);
    parsed.push(result.request);
  }
  let callback: string | undefined;
  if (callbackUrl !== undefined) {
    if (typeof callbackUrl !== 'string' || callbackUrl.length === 0 || callbackUrl.length > MAX_URL_LENGTH) {
      return fail('invalid_request', `callbackUrl must be an http or https URL of at most ${MAX_URL_LENGTH} characters`);
    }
    const verdict = refuseUnsafeUrl(callbackUrl, allow);
    if ('refused' in verdict) return fail('url_refused', verdict.refused.replace(/^url/, 'callbackUrl'));
    callback = verdict.target.url.href;
  }
  return { ok: true, batch: { requests: parsed, ...(callback ? { callbackUrl: callback } : {}) } };
}

/** "width must be ..." -> "requests[3].width must be ..."; other messages -> "requests[3]: ...". */
function atIndex(index: number, message: string): string {
  const field = /^([A-Za-z]+)[.\s[]/.exec(message)?.[1];
  return field && (REQUEST_FIELDS as readonly string[]).includes(field)
    ? `requests[${index}].${message}`
    : `requests[${index}]: ${message}`;
}

/** Reading batches: the bucket, and the store that reads and presigns each job's result. */
type BatchReadDeps = Pick<ApiDeps, 'store' | 'presignTtlSeconds'> & { s3: S3Client; bucket: string };

export type BatchDeps = ApiDeps & BatchReadDeps;

/** Some of a batch's jobs could not be queued; they were recorded `failed`, the rest run. */
export class BatchPartlyQueued extends Error {
  constructor(
    readonly batchId: string,
    readonly failed: number,
    readonly total: number,
    cause: unknown,
  ) {
    super(`${failed} of the batch's ${total} jobs could not be queued`, { cause });
    this.name = 'BatchPartlyQueued';
  }
}

/**
 * Writes the batch record, then each job's queued status and message. Every job's message is
 * sized first (JobTooLarge: nothing is written). A job whose status or message cannot be written
 * (S3 or SQS failing) is recorded `failed` (aws_unavailable), so the batch settles `partial`
 * instead of waiting forever on jobs that were never queued; BatchPartlyQueued says so.
 */
export async function submitBatch(batch: BatchRequest, deps: BatchDeps, now = new Date()): Promise<{ id: string; jobs: Job[] }> {
  const id = randomUUID();
  const jobs = batch.requests.map(({ url, ...options }) => ({ ...newJob(url ?? '', options, now), batchId: id }));
  for (const [index, job] of jobs.entries()) refuseOversizedJob(job, `requests[${index}]`);
  const record: BatchRecord = {
    id,
    requestedAt: now.toISOString(),
    jobIds: jobs.map((j) => j.id),
    ...(batch.callbackUrl ? { callbackUrl: batch.callbackUrl } : {}),
  };
  await writeJson(deps.s3, deps.bucket, batchKey(id), record, 'no-store');
  const limit = pLimit(10);
  const results = await Promise.allSettled(jobs.map((job) => limit(() => enqueueJob(job, deps))));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ job: jobs[i]!, reason: r.reason as unknown }] : []));
  if (failed.length) {
    await Promise.all(
      failed.map(({ job, reason }) =>
        limit(() =>
          writeFailed(
            deps.store,
            job,
            {
              code: 'aws_unavailable',
              message: `the job could not be queued (${(reason as Error)?.message ?? String(reason)}); submit it again`,
            },
            new Date(),
          ).catch(() => undefined),
        ),
      ),
    );
    throw new BatchPartlyQueued(id, failed.length, jobs.length, failed[0]!.reason);
  }
  return { id, jobs };
}

const readBatchRecord = (s3: S3Client, bucket: string, id: string): Promise<BatchRecord | undefined> =>
  readJson<BatchRecord>(s3, bucket, batchKey(id));

/** The batch as GET /batches/{id} answers it; undefined for an unknown id. */
export async function readBatch(id: string, deps: BatchReadDeps): Promise<BatchBody | undefined> {
  if (!isJobId(id)) return undefined;
  const record = await readBatchRecord(deps.s3, deps.bucket, id);
  if (!record) return undefined;
  const limit = pLimit(10);
  const jobs = await Promise.all(
    record.jobIds.map((jobId) =>
      limit(async () => {
        const body = await readScreenshot(jobId, deps);
        if (!body) return { id: jobId, status: 'queued' as const, url: '' };
        const { id: _, requestedAt: __, updatedAt: ___, ...rest } = body;
        return { id: jobId, ...rest };
      }),
    ),
  );
  const counts = { total: jobs.length, queued: 0, done: 0, failed: 0 };
  for (const job of jobs) counts[job.status]++;
  return { id, status: batchStatus(counts), requestedAt: record.requestedAt, counts, jobs };
}

const batchStatus = (c: BatchBody['counts']): BatchStatus => (c.queued > 0 ? 'queued' : c.done === c.total ? 'done' : 'partial');

/** What the batch webhook POSTs (signed like a job's webhook). */
export interface BatchWebhookPayload {
  batchId: string;
  status: 'done' | 'partial';
  counts: BatchBody['counts'];
  jobs: BatchBody['jobs'];
}

export interface BatchSettleDeps extends BatchReadDeps {
  /** Delivers a signed payload; resolves when delivered or given up (never throws). */
  deliver: (callbackUrl: string, payload: BatchWebhookPayload) => Promise<unknown>;
  /** Between writing the claim and reading it back (see the top of this file). */
  claimSettleMs?: number;
}

/**
 * After one of the batch's jobs settled: when the whole batch has, claim and send its webhook.
 * Answers whether this call sent it. Safe to call any number of times, from any number of workers.
 */
export async function onBatchJobSettled(batchId: string, deps: BatchSettleDeps): Promise<boolean> {
  const record = await readBatchRecord(deps.s3, deps.bucket, batchId);
  if (!record?.callbackUrl) return false;
  if (await readJson(deps.s3, deps.bucket, markerKey(batchId))) return false;
  const batch = await readBatch(batchId, deps);
  if (!batch || batch.status === 'queued') return false;
  const token = randomUUID();
  try {
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.bucket,
        Key: markerKey(batchId),
        Body: JSON.stringify({ token, claimedAt: new Date().toISOString() }),
        ContentType: 'application/json',
        IfNoneMatch: '*',
      }),
    );
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 412 || status === 409) return false; // another worker claimed it first
    throw error;
  }
  await sleep(deps.claimSettleMs ?? 1000);
  const marker = await readJson<{ token: string }>(deps.s3, deps.bucket, markerKey(batchId));
  if (marker?.token !== token) return false;
  await deps.deliver(record.callbackUrl, { batchId, status: batch.status, counts: batch.counts, jobs: batch.jobs });
  return true;
}
