// Synchronous answers: POST /screenshots with "wait": N (or `Prefer: wait=N`) holds the request
// until the job settles or N seconds pass, polling the job's status record (one small S3 GET each,
// with backoff). API Gateway ends every REST integration at 29 s (AWS: "Amazon API Gateway quotas",
// integration timeout), so a wait is at most 25 s and never runs past the API function's own time.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { ScreenshotStatus } from '../contract/status.js';
import { type ApiDeps, readScreenshot } from './screenshots.js';

/** The longest wait a request may ask for, in seconds: under API Gateway's 29 s with room to answer. */
export const MAX_WAIT_SECONDS = 25;

export const waitSchema = z
  .number({ error: `wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}` })
  .min(0, { error: `wait must be at least 0 seconds (allowed: 0 to ${MAX_WAIT_SECONDS})` })
  .max(MAX_WAIT_SECONDS, {
    error: `wait must be at most ${MAX_WAIT_SECONDS} seconds (API Gateway ends a request at 29 s); poll statusUrl for longer jobs`,
  })
  .optional()
  .describe(
    `Answer synchronously: hold the request up to this many seconds (at most ${MAX_WAIT_SECONDS}) and answer 303 See Other to the image once done (200 with the status when Accept asks for application/json), 422 with the error if it failed, or the usual 202 if still queued. Also as the header Prefer: wait=N`,
  );

/** `Prefer: wait=N` (RFC 7240 section 4.3): the number of seconds, cut to the maximum; undefined when absent. */
export function preferredWait(prefer: string | undefined): number | undefined {
  if (!prefer) return undefined;
  for (const part of prefer.split(',')) {
    const match = /^\s*wait\s*=\s*"?(\d+(?:\.\d+)?)"?\s*(?:;.*)?$/i.exec(part);
    // A preference is a hint: a longer one is honoured as far as the service can, not refused.
    if (match) return Math.min(Number(match[1]), MAX_WAIT_SECONDS);
  }
  return undefined;
}

/** Room kept after the wait to write the answer before the function's (and the gateway's) deadline. */
const ANSWER_MARGIN_MS = 1500;
const FIRST_POLL_MS = 100;
const MAX_POLL_MS = 1000;

/**
 * Polls the job's status until it is done or failed, or the time is up (whichever of `waitMs` and
 * the function's remaining time minus a margin comes first). The last status read, settled or not.
 */
export async function waitForSettled(
  id: string,
  deps: Pick<ApiDeps, 'store' | 'presignTtlSeconds'>,
  waitMs: number,
  remainingMs: () => number = () => Number.POSITIVE_INFINITY,
): Promise<ScreenshotStatus | undefined> {
  const deadline = Date.now() + Math.max(0, Math.min(waitMs, remainingMs() - ANSWER_MARGIN_MS));
  let pause = FIRST_POLL_MS;
  for (;;) {
    const status = await readScreenshot(id, deps);
    if (status?.status !== 'queued') return status;
    const left = deadline - Date.now();
    if (left <= 0) return status;
    await sleep(Math.min(pause, left));
    pause = Math.min(Math.round(pause * 1.5), MAX_POLL_MS);
  }
}
