// The job message (versioned), job ids and the S3 keys derived from them.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { screenshotOptionsSchema, type ScreenshotOptions, type ScreenshotOptionsInput } from './request.js';
import { PermanentFailure } from './failures.js';

export const JOB_VERSION = 1;
const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export interface Job {
  v: typeof JOB_VERSION;
  id: string;
  url: string;
  options: ScreenshotOptions;
  requestedAt: string;
}

const jobSchema = z.strictObject({
  v: z.literal(JOB_VERSION),
  id: z.string().regex(ID_PATTERN),
  url: z.string().url(),
  options: screenshotOptionsSchema,
  requestedAt: z.string().datetime(),
});

export const newJobId = (): string => randomUUID();
export const isJobId = (id: string): boolean => ID_PATTERN.test(id);

export function newJob(url: string, options: ScreenshotOptionsInput, now = new Date()): Job {
  return { v: JOB_VERSION, id: newJobId(), url, options: screenshotOptionsSchema.parse(options), requestedAt: now.toISOString() };
}

export const encodeJob = (job: Job): string => JSON.stringify(job);

/** Parses a message body; anything that is not a valid job can never succeed, so it is permanent. */
export function decodeJob(body: string): Job {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new PermanentFailure('invalid_job', 'the message body is not JSON');
  }
  const parsed = jobSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PermanentFailure('invalid_job', `the message body is not a v${JOB_VERSION} job: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data as Job;
}

/** Best effort: the id of an undecodable job, so its failure can still be recorded. */
export function salvageJobId(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { id?: unknown })?.id;
    return typeof id === 'string' && isJobId(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

export const imageKey = (id: string, extension = 'png'): string => `images/${id}.${extension}`;
export const statusKey = (id: string): string => `status/${id}.json`;
