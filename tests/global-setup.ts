// Extracts @sparticuz/chromium's binary once, before any worker starts: two processes extracting
// at once fail with `spawn ETXTBSY` (field notes). Workers inherit CHROMIUM_PATH.
import { resolveExecutable } from '../lib/browser.js';

export default async function setup(): Promise<void> {
  process.env.CHROMIUM_PATH = await resolveExecutable(process.env.CHROMIUM_PATH || undefined);
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.POWERTOOLS_DEV ??= 'false';
  // EMF metrics are JSON lines on stdout; tests that assert them turn them back on for the worker.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
}
