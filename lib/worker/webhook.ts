// The webhook: when a job with a callbackUrl settles, POST { id, status, imageUrl?, error? } to it,
// signed, retried with backoff, and under the same egress policy as the browser: the host is
// resolved once, every address checked, and the connection made to that exact address.
//
// Signature (how a receiver verifies, see docs/api.md "Webhooks"):
//   x-url2png-timestamp: <unix seconds>
//   x-url2png-signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
// Recompute over the raw body, compare in constant time, reject timestamps older than 5 minutes.
import { setTimeout as sleep } from 'node:timers/promises';
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { BatchWebhookPayload } from '../api/batches.js';
import type { EgressGuard } from '../egress/egress.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, type WebhookPayload } from '../contract/status.js';
import { defaultPort } from '../egress/url-policy.js';

const DELIVERY_HEADER = 'x-url2png-delivery';

/** `v1=<hex>`: HMAC-SHA256 over "<timestamp>.<body>". */
function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface WebhookSettings {
  secret: string;
  guard: EgressGuard;
  /** Attempts in all (first try included). */
  attempts?: number;
  /** Wait before the second attempt; doubled for each one after it. */
  backoffMs?: number;
  /** Per attempt, connect to last byte (a total, not an idle timeout: a trickling receiver is cut off). */
  timeoutMs?: number;
  /** All attempts and backoffs together; no attempt starts or runs past it. */
  totalMs?: number;
}

/** The retry schedule unless the settings say otherwise: 4 attempts, waiting 1 s, 2 s, then 4 s between them. */
export const WEBHOOK_RETRY = { attempts: 4, backoffMs: 1000 } as const;

/** An attempt with less time than this left is not started. */
const MIN_ATTEMPT_MS = 250;

export type DeliveryResult = { delivered: true; attempts: number; status: number } | { delivered: false; attempts: number; reason: string };

/** Delivers one payload; never throws (the job is already settled, a webhook cannot undo it). */
export async function deliverWebhook(
  callbackUrl: string,
  payload: WebhookPayload | BatchWebhookPayload,
  s: WebhookSettings,
): Promise<DeliveryResult> {
  const attempts = s.attempts ?? WEBHOOK_RETRY.attempts;
  const body = JSON.stringify(payload);
  const deliveryId = randomUUID();
  let reason = 'not attempted';
  const endsAt = Date.now() + (s.totalMs ?? Infinity);
  const left = () => endsAt - Date.now();
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) {
      const backoff = (s.backoffMs ?? WEBHOOK_RETRY.backoffMs) * 2 ** (attempt - 2);
      if (left() - backoff < MIN_ATTEMPT_MS)
        return { delivered: false, attempts: attempt - 1, reason: `${reason}; no time left for another attempt` };
      await sleep(backoff);
    }
    if (left() < MIN_ATTEMPT_MS) return { delivered: false, attempts: attempt - 1, reason: `${reason}; no time left for an attempt` };
    const url = new URL(callbackUrl);
    const port = url.port ? Number(url.port) : defaultPort(url.protocol);
    // Checked on every attempt: a name that now resolves somewhere private is refused.
    const verdict = await s.guard.check(url.hostname, port);
    if (!verdict.allowed) return { delivered: false, attempts: attempt, reason: `refused by the egress policy: ${verdict.reason}` };
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const status = await post(
        url,
        verdict.address,
        port,
        body,
        {
          'content-type': 'application/json',
          'user-agent': 'url2png-webhook/1',
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signWebhook(s.secret, timestamp, body),
          [DELIVERY_HEADER]: deliveryId,
        },
        Math.min(s.timeoutMs ?? 5000, left()),
      );
      if (status >= 200 && status < 300) return { delivered: true, attempts: attempt, status };
      reason = `the receiver answered ${status}`;
      // A receiver that says the request itself is wrong will say so again; 408/429 mean "later".
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { delivered: false, attempts: attempt, reason };
    } catch (error) {
      reason = (error as Error).message;
    }
  }
  return { delivered: false, attempts, reason };
}

function post(url: URL, address: string, port: number, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      {
        host: address, // the checked address, not the name: no second lookup to rebind
        port,
        method: 'POST',
        path: url.pathname + url.search,
        headers: { ...headers, host: url.host, 'content-length': String(Buffer.byteLength(body)) },
        ...(secure && !isIP(url.hostname.replace(/^\[(.*)\]$/, '$1')) ? { servername: url.hostname } : {}),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    // One timer from connect to the last byte: a socket timeout would only catch silence.
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(body);
  });
}
