// Extracts @sparticuz/chromium's binary once, before any worker starts: two processes extracting
// at once fail with `spawn ETXTBSY` (Sparticuz/chromium #242, #507). Workers inherit CHROMIUM_PATH.
// Also gives the run one scratch directory (URL2PNG_TEST_SCRATCH) for the service copies that
// packaging needs (~160 MB each), removed at the end: test workers end without an 'exit' event.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveExecutable } from '../lib/capture/browser.js';

export default async function setup(): Promise<() => void> {
  const scratch = mkdtempSync(join(tmpdir(), 'url2png-tests-'));
  process.env.URL2PNG_TEST_SCRATCH = scratch;
  // Nothing a test runs (stacks, the CLI's in-process mode) keeps state in the repository's .url2png/.
  process.env.URL2PNG_DATA_DIR ??= join(scratch, 'data');
  // Every AWS call the handlers make in any stack of the run, for tests/security/iam-calls.test.ts
  // (local/aws-sdk-hooks.ts writes them).
  process.env.URL2PNG_AWS_CALL_LOG ??= join(scratch, 'aws-calls');
  process.env.CHROMIUM_PATH = await resolveExecutable(process.env.CHROMIUM_PATH || undefined);
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.POWERTOOLS_DEV ??= 'false';
  // EMF metrics are JSON lines on stdout; tests that assert them turn them back on for the worker.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  return () => rmSync(scratch, { recursive: true, force: true });
}
