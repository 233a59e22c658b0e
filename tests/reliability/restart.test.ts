// `npm start` keeps its state in URL2PNG_DATA_DIR: SIGKILL the whole service (its process group)
// in the middle of a burst, start it again with the same settings, and nothing is lost: every job
// it accepted ends `done`, without waiting out the 400 s visibility timeout of the ones that were
// being rendered, and a job done before the crash serves the very same image bytes.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCRATCH_ROOT, killGroup } from '../../lib/capture/browser.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { processes } from '../../fixtures/procs.js';
import { eventually } from '../support/eventually.js';
import { postScreenshot, waitForSettled } from '../support/stack.js';

const ROOT = join(import.meta.dirname, '../..');
const BURST = 6;
let pages: PageServer;
const started: number[] = []; // process groups, killed at the end whatever happened
const dataDir = mkdtempSync(join(process.env.URL2PNG_TEST_SCRATCH ?? tmpdir(), 'url2png-data-'));

beforeAll(async () => {
  pages = await servePages({
    '/before': html('<h1 style="background:#c60;color:#fff">done before the crash</h1>'),
    // Slow enough that the kill lands while the worker holds messages it has not finished.
    '/slow': (_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(html('<h1>slow</h1>')), 1500);
    },
  });
});
afterAll(async () => {
  for (const pgid of started) killGroup(pgid);
  await pages?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** `npm start` in its own process group, with the same settings every time (ports picked freely). */
async function start() {
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    // No URL2PNG_VISIBILITY_TIMEOUT_S: the template's 400 s, which an in-flight job must not wait out.
    env: { ...process.env, PORT: '0', URL2PNG_EMULATOR_PORT: '0', URL2PNG_EGRESS_ALLOW: pages.hostPort, URL2PNG_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child.pid!);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // On a timeout the service's own output says why it did not start.
  const url = await eventually(() => /url2png listening on (http:\/\/\S+)/.exec(out)?.[1], Boolean, 45_000).catch(() => undefined);
  expect(url, out).toBeDefined();
  return { child, exited, url: url!, output: () => out };
}

const bytesOf = async (imageUrl: string) => new Uint8Array(await (await fetch(imageUrl)).arrayBuffer());

describe('npm start keeps its state across a crash', () => {
  it('SIGKILL of the whole service mid-burst, then a restart: every accepted job done, earlier images unchanged', async () => {
    const first = await start();
    // The console: where it listens, the web page, where the data lives, one curl to try; no noise.
    expect(first.output()).toContain(`  web page   ${first.url}/`);
    expect(first.output()).toContain(`  data       ${dataDir}`);
    expect(first.output()).toMatch(
      /try {8}curl -s http:\/\/127\.0\.0\.1:\d+\/screenshots -H 'content-type: application\/json' -d '\{"url": /,
    );

    const before = await postScreenshot(first.url, { url: `${pages.origin}/before` });
    const done = await waitForSettled(String(before.json.statusUrl), 60_000);
    expect(done.status).toBe('done');
    const imageBefore = await bytesOf(done.imageUrl!);

    const accepted: string[] = [];
    for (let i = 0; i < BURST; i++) {
      const { res, json } = await postScreenshot(first.url, { url: `${pages.origin}/slow?n=${i}` });
      expect(res.status).toBe(202);
      accepted.push(String(json.id));
    }
    // The worker is rendering (its browser asked for a page): kill everything, as a power cut would.
    await eventually(
      () => pages.hits.get('/slow') ?? 0,
      (n) => n > 0,
      30_000,
    );
    const servicePid = processes().find((p) => p.pgid === first.child.pid && p.cmdline.includes('local/start.ts'))?.pid;
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exited;
    // Chromium leads its own process group, so the kill does not reach it; it exits when its pipe
    // closes. Whatever is still there after a moment is cleaned up so it cannot skew later tests.
    const orphans = () => processes().filter((p) => p.cmdline.includes(join(DEFAULT_SCRATCH_ROOT, `worker-${servicePid}-`)));
    for (const p of await eventually(orphans, (left) => left.length === 0, 5000).catch(() => orphans())) killGroup(p.pgid);

    const second = await start();
    try {
      // The jobs that were in flight are queued again at start, not after the visibility timeout.
      expect(second.output()).toMatch(/\(\d+ unfinished jobs from the last run queued again\)/);
      for (const id of accepted) {
        const status = await waitForSettled(`${second.url}/screenshots/${id}`, 90_000);
        expect(status, id).toMatchObject({ id, status: 'done' });
      }
      const again = await waitForSettled(`${second.url}/screenshots/${before.json.id}`, 1000);
      expect(again.status).toBe('done');
      expect(Buffer.from(await bytesOf(again.imageUrl!)).equals(Buffer.from(imageBefore))).toBe(true);
    } finally {
      process.kill(-second.child.pid!, 'SIGINT');
      await second.exited;
    }
    // A clean stop says so, and nothing else: no empty-metrics warning, no browser "disconnected".
    expect(second.output()).toMatch(/SIGINT: stopping[\s\S]*\nstopped/);
    expect(first.output() + second.output()).not.toMatch(/No application metrics|browser disconnected/);
  }, 300_000);
});
