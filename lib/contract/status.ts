// A screenshot job's status, the one schema for every place it appears: the status record in the
// bucket, GET /screenshots/{id} and POST's answer, the webhook payload, the CLI's reading of it, and
// the OpenAPI document (lib/contract/openapi.ts generates those parts from here).
import { z } from 'zod';
import { pageMetadataSchema, qualityReportSchema } from './findings.js';
import { problemSchema } from './problem.js';
import { FORMAT_INFO } from './request.js';

const JOB_STATES = ['queued', 'done', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

const CONTENT_TYPES = [...new Set(Object.values(FORMAT_INFO).map((f) => f.contentType))] as [string, ...string[]];
const uuid = z.string().meta({ format: 'uuid' });
const uri = z.string().meta({ format: 'uri' });
const dateTime = z.string().meta({ format: 'date-time' });

const size = z.object({ width: z.int(), height: z.int() });
const diffNumbers = {
  comparedTo: uuid,
  changedPixels: z.int().describe('Pixels that differ beyond pixelmatch threshold 0.1 (anti-aliasing alone not counted)'),
  changedRatio: z.number().describe('changedPixels / (width x height), 6 decimals'),
  width: z.int().describe('Width of the compared (common) area'),
  height: z.int().describe('Height of the compared (common) area'),
  newSize: size,
  previousSize: size,
};
/** When the request had compareTo: the new image against that earlier one (lib/worker/compare.ts). */
const diffSummarySchema = z
  .object({
    ...diffNumbers,
    diffImageUrl: uri.describe('A short-lived URL of a PNG: changed pixels red over a faded copy of the new image'),
  })
  .describe('When the request had compareTo: the new image against that earlier one, on their common top-left area');
export type DiffSummary = z.infer<typeof diffSummarySchema>;
/** The diff as the status record keeps it: the diff image's key, which the API presigns. */
const diffRecordSchema = z.object({ ...diffNumbers, diffImageKey: z.string() });
export type DiffRecord = z.infer<typeof diffRecordSchema>;

/** GET /screenshots/{id}, and POST /screenshots's answer (202 queued, or 200 done from the cache). */
export const screenshotStatusSchema = z.object({
  id: uuid,
  status: z.enum(JOB_STATES),
  url: uri.describe('The page, as the service will fetch it'),
  requestedAt: dateTime,
  updatedAt: dateTime.optional(),
  statusUrl: uri.optional().describe("POST's answer: where to poll"),
  receiptSalt: z
    .string()
    .optional()
    .describe(
      "POST's 202 answer only: the job's secret that keys the receipt's commitments to its credentials and scripts (keep it to show what you sent)",
    ),
  imageUrl: uri.optional().describe('When done: a short-lived URL of the image'),
  contentType: z.enum(CONTENT_TYPES).optional(),
  truncated: z.boolean().optional().describe('fullPage: the page was taller than the maximum (see fullPage) and the image was cut'),
  cached: z.boolean().optional().describe('true when POST answered from the cache without rendering'),
  error: problemSchema.optional().describe('When failed: why'),
  diff: diffSummarySchema.optional(),
  quality: qualityReportSchema.optional().describe('When done: the quality report of the capture (docs/quality.md)'),
  metadata: pageMetadataSchema.optional().describe('When done and extract has "metadata"'),
  extractsUrl: uri
    .optional()
    .describe('When done and extract was set: a short-lived URL of the JSON document { metadata, text?, markdown?, html?, truncated? }'),
  attempts: z.int().optional().describe('While queued for a retry: deliveries tried so far'),
  lastError: problemSchema.optional().describe('While queued for a retry: the transient error of the last attempt'),
});
export type ScreenshotStatus = z.infer<typeof screenshotStatusSchema>;

/** status/<id>.json in the bucket: the status without what the API adds, plus the image's key. */
const statusRecordSchema = screenshotStatusSchema
  .omit({ statusUrl: true, imageUrl: true, cached: true, receiptSalt: true, extractsUrl: true })
  .extend({
    updatedAt: dateTime,
    imageKey: z.string().optional(),
    extractsKey: z.string().optional(),
    diff: diffRecordSchema.optional(),
  });
export type StatusRecord = z.infer<typeof statusRecordSchema>;

/** POSTed to callbackUrl when a job settles (signed; lib/worker/webhook.ts). */
export const webhookPayloadSchema = screenshotStatusSchema
  .pick({
    id: true,
    imageUrl: true,
    error: true,
    diff: true,
    quality: true,
    metadata: true,
    extractsUrl: true,
  })
  .extend({
    status: z.enum(['done', 'failed']),
  });
/** The webhook's signature headers (lib/worker/webhook.ts signs, the OpenAPI document describes them). */
export const SIGNATURE_HEADER = 'x-url2png-signature';
export const TIMESTAMP_HEADER = 'x-url2png-timestamp';

export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

/** A stored diff as a client sees it: the diff image's key becomes a presigned URL. */
export async function presentDiff(
  { diffImageKey: key, ...numbers }: DiffRecord,
  presign: (key: string) => Promise<string>,
): Promise<DiffSummary> {
  return { ...numbers, diffImageUrl: await presign(key) };
}
