// The local stack for tests: free ports, short tuning where asked, pages allow-listed exactly.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScreenshotStatus } from '../../lib/contract/status.js';
import { S3Client } from '@aws-sdk/client-s3';
import { type Emulator, LOCAL_REGION } from '../../local/emulator.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';

export interface TestStackOptions {
  allow: string[];
  env?: Record<string, string>;
  workerConcurrency?: number;
}

export async function startTestStack(options: TestStackOptions): Promise<LocalStack> {
  process.env.URL2PNG_EGRESS_ALLOW = options.allow.join(',');
  // A throw-away data directory (receipt key) per stack unless the test brings its own.
  process.env.URL2PNG_DATA_DIR = mkdtempSync(join(process.env.URL2PNG_TEST_SCRATCH ?? tmpdir(), 'data-'));
  Object.assign(process.env, options.env ?? {});
  return startLocalStack({ port: 0, emulatorPort: 0, workerConcurrency: options.workerConcurrency });
}

/** An S3 client of the run's emulator, signing with its per-run secret (destroy it when done). */
export const emulatorS3 = (emulator: Pick<Emulator, 'endpoint' | 'credentials'>): S3Client =>
  new S3Client({ region: LOCAL_REGION, endpoint: emulator.endpoint, forcePathStyle: true, credentials: emulator.credentials });

export async function postScreenshot(apiUrl: string, body: unknown) {
  const res = await fetch(`${apiUrl}/screenshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

/** Polls a status URL until the job settles (or the time runs out). */
export async function waitForSettled(statusUrl: string, timeoutMs = 30_000): Promise<ScreenshotStatus> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const body = (await (await fetch(statusUrl)).json()) as ScreenshotStatus;
    if (body.status !== 'queued' || Date.now() > until) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
}
