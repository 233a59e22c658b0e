// How long a caller may ask POST /screenshots to hold its answer: the "wait" field and the
// `Prefer: wait=N` header. API Gateway ends every REST integration at 29 s (AWS: "Amazon API
// Gateway quotas", integration timeout), so a wait is at most 25 s. Part of the contract: the
// OpenAPI document and the API both read it; lib/api/sync-wait.ts does the waiting.
import { z } from 'zod';

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
