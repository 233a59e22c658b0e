// Visual diffs (compareTo) through the local stack: a page captured before and after one block
// changes colour gives exactly that block's pixel count and a diff image that marks exactly it;
// identical captures give 0; different sizes are compared on the common area; the webhook and the
// CLI carry the numbers; compareTo of an unknown or failed screenshot is refused by name.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { decodePng, sniffFormat } from '../support/images.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';
import { runCli } from '../surfaces/support.js';
import { shoot } from '../options/shoot.js';

// A 100 x 50 block at (20, 30) on white; only its colour changes between the two versions.
const BLOCK = { x: 20, y: 30, width: 100, height: 50 };
let colour = '#0000ff';
const page = () =>
  html(
    `<div style="position:absolute;left:${BLOCK.x}px;top:${BLOCK.y}px;width:${BLOCK.width}px;height:${BLOCK.height}px;background:${colour}"></div>`,
    '<style>html,body{background:#fff}</style>',
  );

interface Diff {
  comparedTo: string;
  changedPixels: number;
  changedRatio: number;
  width: number;
  height: number;
  newSize: { width: number; height: number };
  previousSize: { width: number; height: number };
  diffImageUrl: string;
}

let pages: PageServer;
let stack: LocalStack;
let dir: string;
const webhooks: Array<{ id: string; status: string; diff?: Diff }> = [];
const size = { width: 640, height: 400 };

beforeAll(async () => {
  pages = await servePages({
    '/page': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page()),
    '/hook': (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        webhooks.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    },
  });
  stack = await startTestStack({ allow: [pages.hostPort], env: { URL2PNG_WEBHOOK_SECRET: 'diff-test-secret' } });
  dir = mkdtempSync(join(process.env.URL2PNG_TEST_SCRATCH ?? tmpdir(), 'diff-'));
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('compareTo', () => {
  it('gives 0 for an identical capture, exactly the changed block after a change, and marks exactly that block in the diff image', async () => {
    colour = '#0000ff';
    const before = await shoot(stack.apiUrl, { url: `${pages.origin}/page`, ...size });
    const beforeId = before.status.id;

    const same = await shoot(stack.apiUrl, {
      url: `${pages.origin}/page`,
      ...size,
      compareTo: beforeId,
      callbackUrl: `${pages.origin}/hook`,
    });
    const sameDiff = (same.status as unknown as { diff: Diff }).diff;
    expect(sameDiff).toMatchObject({ comparedTo: beforeId, changedPixels: 0, changedRatio: 0, ...size, newSize: size, previousSize: size });
    // The webhook carries the same numbers.
    for (let i = 0; i < 100 && !webhooks.some((w) => w.id === same.status.id); i++) await new Promise((r) => setTimeout(r, 100));
    expect(webhooks.find((w) => w.id === same.status.id)?.diff).toMatchObject({
      comparedTo: beforeId,
      changedPixels: 0,
      width: 640,
      height: 400,
      diffImageUrl: expect.any(String),
    });

    // After the change, through the CLI: the numbers on stdout, the diff image beside the shot.
    colour = '#ff0000';
    const shotFile = join(dir, 'after.png');
    const run = await runCli([
      `${pages.origin}/page`,
      '--endpoint',
      stack.apiUrl,
      '--width',
      '640',
      '--height',
      '400',
      '--compare-to',
      beforeId,
      '-o',
      shotFile,
      '--quiet',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const diffFile = join(dir, 'after.diff.png');
    const area = BLOCK.width * BLOCK.height;
    expect(run.stdout.trim().split('\n')).toEqual([
      shotFile,
      `diff: ${area} of ${640 * 400} pixels changed (${((area / (640 * 400)) * 100).toFixed(4)}%) on 640x400 since ${beforeId}; diff image: ${diffFile}`,
    ]);
    expect(sniffFormat(readFileSync(shotFile))).toBe('png');

    // Red exactly on the block, nothing red (a faded grey copy of the new image) anywhere else.
    const diff = decodePng(readFileSync(diffFile));
    expect([diff.width, diff.height]).toEqual([640, 400]);
    let misplaced = 0;
    for (let y = 0; y < diff.height; y++) {
      for (let x = 0; x < diff.width; x++) {
        const [r, g, b] = diff.at(x, y);
        const red = r === 255 && g === 0 && b === 0;
        const inBlock = x >= BLOCK.x && x < BLOCK.x + BLOCK.width && y >= BLOCK.y && y < BLOCK.y + BLOCK.height;
        if (red !== inBlock) misplaced++;
      }
    }
    expect(misplaced).toBe(0);
    // Outside the block: the new image faded towards white (white page stays white).
    expect(diff.at(400, 300)).toEqual([255, 255, 255]);
  });

  it('compares images of different sizes on the common area and reports both sizes', async () => {
    colour = '#0000ff';
    const narrow = await shoot(stack.apiUrl, { url: `${pages.origin}/page`, ...size });
    const wide = await shoot(stack.apiUrl, { url: `${pages.origin}/page`, width: 800, height: 300, compareTo: narrow.status.id });
    const d = (wide.status as unknown as { diff: Diff }).diff;
    expect(d).toMatchObject({ changedPixels: 0, width: 640, height: 300, newSize: { width: 800, height: 300 }, previousSize: size });
    const image = await fetch(d.diffImageUrl);
    expect(image.status).toBe(200);
    const pixels = decodePng(new Uint8Array(await image.arrayBuffer()));
    expect([pixels.width, pixels.height]).toEqual([640, 300]);
  });

  it('refuses compareTo of an unknown or failed screenshot, and with a lossy format, naming the field', async () => {
    const unknown = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/page`, compareTo: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.res.status).toBe(400);
    expect(unknown.json.error).toMatchObject({
      code: 'compare_unavailable',
      message: expect.stringMatching(/^compareTo: no screenshot with id/),
    });

    const failedJob = await postScreenshot(stack.apiUrl, { url: 'http://no-such-host.invalid/' });
    const failed = await waitForSettled(String(failedJob.json.statusUrl), 60_000);
    expect(failed.status).toBe('failed');
    const onFailed = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/page`, compareTo: failed.id });
    expect(onFailed.res.status).toBe(400);
    expect(onFailed.json.error).toMatchObject({ code: 'compare_unavailable', message: expect.stringMatching(/failed \(dns_not_found\)/) });

    const lossy = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/page`, format: 'jpeg', compareTo: failed.id });
    expect(lossy.res.status).toBe(400);
    expect(lossy.json.error).toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/compareTo compares PNG images only/),
    });
  });
});
