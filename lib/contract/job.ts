// The job message (versioned), job ids and the S3 keys derived from them. Two shapes are read:
// v1, what the API sends ({ v: 1, id, url, options, requestedAt }), and the chapter's own message
// ({ id, url }, no version: the book's `index.js` client), which is a job with default options.
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { screenshotOptionsSchema, type ScreenshotOptions, type ScreenshotOptionsInput } from './request.js';
import { PermanentFailure } from './failures.js';
import type { HtmlInputRef } from '../storage/html-inputs.js';

const JOB_VERSION = 1;
// Any RFC 9562 UUID in its canonical lower-case form (the API makes v4; a client may send another).
const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export interface Job {
  v: typeof JOB_VERSION;
  id: string;
  /** The page; for an html job the address it renders at (about:blank). */
  url: string;
  /** An html job: its document in the bucket. */
  html?: HtmlInputRef;
  options: ScreenshotOptions;
  requestedAt: string;
  /** Set when the job is one of a batch's (lib/api/batches.ts). */
  batchId?: string;
  /**
   * The secret that keys the receipt's commitments to the job's credentials and scripts
   * (lib/receipts/receipt.ts): returned only to the caller, in the answer to its POST.
   */
  receiptSalt?: string;
}

const jobSchema = z.strictObject({
  v: z.literal(JOB_VERSION),
  id: z.string().regex(ID_PATTERN),
  url: z.string().url(),
  html: z.strictObject({ key: z.string().regex(/^inputs\/[0-9a-f-]{36}\.html$/), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  options: screenshotOptionsSchema,
  requestedAt: z.string().datetime(),
  batchId: z.string().regex(ID_PATTERN).optional(),
  receiptSalt: z
    .string()
    .regex(/^[A-Za-z0-9_-]{22,86}$/)
    .optional(),
});

/** The chapter's message: a client-made id and the page, nothing else (ids read case-insensitively). */
const bookJobSchema = z.strictObject({
  id: z
    .string()
    .transform((id) => id.toLowerCase())
    .pipe(z.string().regex(ID_PATTERN, { error: 'id must be a UUID like "6f1c2d3e-4b5a-4c6d-8e7f-901234567890"' })),
  url: z.string().url(),
});

export const newJobId = (): string => randomUUID();
export const isJobId = (id: string): boolean => ID_PATTERN.test(id);

export function newJob(url: string, options: ScreenshotOptionsInput, now = new Date(), id = newJobId()): Job {
  return {
    v: JOB_VERSION,
    id,
    url,
    options: screenshotOptionsSchema.parse(options),
    requestedAt: now.toISOString(),
    receiptSalt: randomBytes(32).toString('base64url'),
  };
}

export const encodeJob = (job: Job): string => JSON.stringify(job);

const describe = (error: z.ZodError) => error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');

/**
 * Parses a message body; anything that is not a valid job can never succeed, so it is permanent.
 * `sentAt` (the message's SQS SentTimestamp) dates a chapter-shaped job, which carries no time.
 */
export function decodeJob(body: string, sentAt: Date = new Date()): Job {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new PermanentFailure('invalid_job', 'the message body is not JSON');
  }
  if (typeof raw === 'object' && raw !== null && !('v' in raw)) {
    const book = bookJobSchema.safeParse(raw);
    if (!book.success) {
      throw new PermanentFailure(
        'invalid_job',
        `the message body is not a v${JOB_VERSION} job nor the chapter's {"id": <uuid>, "url": <url>}: ${describe(book.error)}`,
      );
    }
    const { id, url } = book.data;
    return { v: JOB_VERSION, id, url, options: screenshotOptionsSchema.parse({}), requestedAt: sentAt.toISOString() };
  }
  const parsed = jobSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PermanentFailure('invalid_job', `the message body is not a v${JOB_VERSION} job: ${describe(parsed.error)}`);
  }
  return parsed.data as Job;
}

/** Best effort: the id of an undecodable job, so its failure can still be recorded. */
export function salvageJobId(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { id?: unknown })?.id;
    return typeof id === 'string' && isJobId(id.toLowerCase()) ? id.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

export const imageKey = (id: string, extension = 'png'): string => `images/${id}.${extension}`;
export const statusKey = (id: string): string => `status/${id}.json`;
/** `extract`'s document, beside the image and under the same lifecycle rule's days. */
export const extractsKey = (id: string): string => `extracts/${id}.json`;
