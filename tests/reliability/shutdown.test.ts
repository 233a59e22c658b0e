// `npm start` (on free ports) stops cleanly on SIGINT (Ctrl-C: the whole process group) and on
// SIGTERM (to npm alone): exit code 0, and no Chromium, worker process or scratch directory left.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCRATCH_ROOT } from '../../lib/capture/browser.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, waitForSettled } from '../support/stack.js';
import { processes } from '../../fixtures/procs.js';
import { eventually } from '../support/eventually.js';

const ROOT = join(import.meta.dirname, '../..');
let pages: PageServer;

beforeAll(async () => {
  pages = await servePages({ '/ok': html('<h1>fine</h1>') });
});
afterAll(async () => {
  await pages?.close();
});

async function startService() {
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true, // its own process group, as a terminal's foreground job
    env: { ...process.env, PORT: '0', URL2PNG_EMULATOR_PORT: '0', URL2PNG_EGRESS_ALLOW: pages.hostPort },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  // npm itself ends by re-raising the signal it forwarded; what matters is that the service's own
  // process finished its shutdown ("stopped") and left nothing behind.
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const url = await eventually(() => /url2png listening on (http:\/\/\S+)/.exec(out)?.[1], Boolean, 45_000);
  expect(url, out).toBeDefined();
  // A job, so a worker process and its Chromium are up when the signal comes.
  const { json } = await postScreenshot(url!, { url: `${pages.origin}/ok` });
  expect((await waitForSettled(String(json.statusUrl), 30_000)).status).toBe('done');
  const workers = processes().filter((p) => p.pgid === child.pid && p.cmdline.includes('local/worker-child.ts'));
  expect(workers).toHaveLength(1);
  const scratch = join(DEFAULT_SCRATCH_ROOT, `worker-`);
  const browsers = processes().filter((p) => p.ppid === workers[0]!.pid && p.cmdline.includes(scratch));
  expect(browsers.length).toBeGreaterThan(0);
  const servicePid = processes().find((p) => p.pid === workers[0]!.ppid)!.pid;
  return { child, exited, worker: workers[0]!.pid, servicePid, browserGroup: browsers[0]!.pgid, output: () => out };
}

async function expectNothingLeft(s: Awaited<ReturnType<typeof startService>>) {
  const left = await eventually(
    () => processes().filter((p) => p.pgid === s.browserGroup || p.pid === s.worker || p.pgid === s.child.pid),
    (p) => p.length === 0,
    5000,
  );
  expect(left).toEqual([]);
  // The worker's scratch directory (named after the service's process) is gone too.
  const service = processes().length ? s.servicePid : 0;
  const scratchDirs = existsSync(DEFAULT_SCRATCH_ROOT)
    ? readdirSync(DEFAULT_SCRATCH_ROOT).filter((d) => d.startsWith(`worker-${service}-`))
    : [];
  expect(scratchDirs).toEqual([]);
}

describe('npm start shutdown', () => {
  it('SIGINT to the process group (Ctrl-C): the service shuts down, no orphan Chromium', async () => {
    const s = await startService();
    process.kill(-s.child.pid!, 'SIGINT');
    expect([
      { code: 0, signal: null },
      { code: null, signal: 'SIGINT' },
      { code: 130, signal: null },
    ]).toContainEqual(await s.exited);
    await eventually(
      () => s.output(),
      (o) => /\nstopped/.test(o),
      15_000,
    );
    expect(s.output()).toMatch(/SIGINT: stopping[\s\S]*\nstopped/);
    await expectNothingLeft(s);
  }, 90_000);

  it('SIGTERM to npm alone: reaches the service (npm start execs tsx), which shuts down, no orphan Chromium', async () => {
    const s = await startService();
    process.kill(s.child.pid!, 'SIGTERM');
    expect([
      { code: 0, signal: null },
      { code: null, signal: 'SIGTERM' },
      { code: 143, signal: null },
    ]).toContainEqual(await s.exited);
    await eventually(
      () => s.output(),
      (o) => /\nstopped/.test(o),
      15_000,
    );
    expect(s.output()).toMatch(/SIGTERM: stopping[\s\S]*\nstopped/);
    await expectNothingLeft(s);
  }, 90_000);
});
