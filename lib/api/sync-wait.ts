// Synchronous answers: POST /screenshots with "wait": N (or `Prefer: wait=N`) holds the request
// until the job settles or N seconds pass, polling the job's status record (one small S3 GET each,
// with backoff). API Gateway ends every REST integration at 29 s (AWS: "Amazon API Gateway quotas",
// integration timeout), so a wait is at most 25 s and never runs past the API function's own time.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ScreenshotStatus } from '../contract/status.js';
import { type ApiDeps, readScreenshot } from './screenshots.js';

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
