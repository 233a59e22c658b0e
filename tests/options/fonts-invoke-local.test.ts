// `serverless invoke local -f worker` (the esbuild bundle, run by osls) renders CJK and emoji with
// the npm fonts too: distinct characters give distinct pixels and the emoji are in colour.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { servePages, type PageServer } from '../../fixtures/pages.js';
import { copyService } from '../../fixtures/serverless.js';
import { eventually } from '../support/eventually.js';
import type { ScreenshotStatus } from '../../lib/contract/status.js';
import { startTestStack } from '../support/stack.js';
import { CELL, CELLS, expectGlyphPixels, GLYPH_PAGE } from './fonts.js';

let pages: PageServer;
let stack: LocalStack;
let dir: string;

/**
 * `serverless invoke local` until it prints the handler's result. osls then waits for the event
 * loop to empty, which a worker that rendered never does (its browser and proxy stay up for the
 * next invocation, as in a warm Lambda), so the command is ended once the result is out.
 */
async function invokeWorker(eventFile: string, env: Record<string, string>): Promise<unknown> {
  const child = spawn(
    resolve(import.meta.dirname, '../../node_modules/.bin/serverless'),
    ['invoke', 'local', '--stage', 'local', '-f', 'worker', '-p', eventFile],
    {
      cwd: dir,
      detached: true,
      env: { ...process.env, TMPDIR: join(dir, '.tmp'), SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  try {
    const result = await eventually(() => /(?:^|\n)(\{\s+"batchItemFailures"[\s\S]*?\n\})/.exec(out)?.[1], Boolean, 200_000);
    expect(result, out).toBeDefined();
    return JSON.parse(result!);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

beforeAll(async () => {
  pages = await servePages({ '/glyphs': GLYPH_PAGE });
  stack = await startTestStack({ allow: [pages.hostPort] });
  dir = copyService();
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
});

describe('fonts in serverless invoke local', () => {
  it('the bundled worker draws real CJK glyphs and colour emoji', async () => {
    const id = randomUUID();
    const job = {
      v: 1,
      id,
      url: `${pages.origin}/glyphs`,
      options: { width: CELLS.length * CELL, height: 200 },
      requestedAt: new Date().toISOString(),
    };
    const event = join(dir, 'glyphs-event.json');
    writeFileSync(
      event,
      JSON.stringify({
        Records: [
          {
            messageId: randomUUID(),
            receiptHandle: 'glyphs',
            body: JSON.stringify(job),
            attributes: {
              ApproximateReceiveCount: '1',
              SentTimestamp: String(Date.now()),
              SenderId: '000000000000',
              ApproximateFirstReceiveTimestamp: String(Date.now()),
            },
            messageAttributes: {},
            md5OfBody: '',
            eventSource: 'aws:sqs',
            eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:url2png-local-jobs',
            awsRegion: 'us-east-1',
          },
        ],
      }),
    );
    const result = await invokeWorker(event, { URL2PNG_EMULATOR_PORT: String(stack.emulator.port), URL2PNG_EGRESS_ALLOW: pages.hostPort });
    expect(result).toEqual({ batchItemFailures: [] });
    const status = (await (await fetch(`${stack.apiUrl}/screenshots/${id}`)).json()) as ScreenshotStatus;
    expect(status.status, JSON.stringify(status)).toBe('done');
    expectGlyphPixels(new Uint8Array(await (await fetch(status.imageUrl!)).arrayBuffer()), expect);
  }, 240_000);
});
