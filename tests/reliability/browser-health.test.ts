// Browser health with a real Chromium, in multi-process mode (contexts per job) and in
// single-process mode (@sparticuz/chromium's default): relaunch after a disconnect, a page hung in
// a JS loop closed (or the browser SIGKILLed and relaunched when closing hangs), no zombie or
// leftover processes, no profile/temp directories piling up.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserHost, sweepStaleScratch } from '../../lib/capture/browser.js';
import { EgressGuard, startEgressProxy, type EgressProxy } from '../../lib/egress/egress.js';
import { classifyFailure } from '../../lib/contract/failures.js';
import { renderScreenshot } from '../../lib/capture/render.js';
import { EgressAllowList } from '../../lib/egress/url-policy.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { imageSize as pngSize } from '../support/images.js';
import { inGroup, processes, zombiesOf } from '../../fixtures/procs.js';
import { eventually } from '../support/eventually.js';

let pages: PageServer;
let guard: EgressGuard;
let proxy: EgressProxy;

beforeAll(async () => {
  pages = await servePages({
    '/ok': html('<h1>fine</h1>'),
    // Spins the renderer's main thread forever: `load` never fires, the page never answers.
    '/spin': html('<script>for (;;) {}</script>'),
  });
  guard = new EgressGuard(new EgressAllowList([pages.hostPort]));
  proxy = await startEgressProxy(guard);
});

afterAll(async () => {
  await proxy?.close();
  await pages?.close();
});

const TIMEOUT_MS = 1500;
const options = { width: 640, height: 480 };

describe.each([
  { mode: 'multi-process', singleProcess: false },
  { mode: 'single-process', singleProcess: true },
])('browser health, $mode', ({ singleProcess }) => {
  let host: BrowserHost;
  let scratchRoot: string;
  const events: string[] = [];
  const render = (path: string) => renderScreenshot({ url: `${pages.origin}${path}`, options }, { browsers: host, guard }, TIMEOUT_MS);

  beforeAll(() => {
    scratchRoot = mkdtempSync(join(tmpdir(), 'url2png-health-'));
    host = new BrowserHost({
      executablePath: process.env.CHROMIUM_PATH,
      singleProcess,
      proxy,
      scratchRoot,
      onEvent: (event) => events.push(event),
    });
  });

  afterAll(async () => {
    await host?.close();
    rmSync(scratchRoot, { recursive: true, force: true });
  });

  it('relaunches after the browser dies (disconnected) and renders again', async () => {
    expect(pngSize(await (await render('/ok')).bytes)).toEqual({ width: 640, height: 480 });
    const pid = host.pid!;
    process.kill(-pid, 'SIGKILL'); // the whole browser, as an OOM kill would
    await eventually(() => events.includes('disconnected'), Boolean);
    const image = await render('/ok');
    expect(pngSize(image.bytes)).toEqual({ width: 640, height: 480 });
    expect(host.pid).not.toBe(pid);
    expect(host.launches).toBe(2);
    // The dead browser left nothing: no process of its group, no zombie, one scratch dir (the new browser's).
    expect(
      await eventually(
        () => inGroup(pid),
        (p) => p.length === 0,
      ),
    ).toEqual([]);
    expect(zombiesOf(process.pid)).toEqual([]);
    expect(readdirSync(scratchRoot)).toHaveLength(1);
  });

  it('a page hung in a JS loop fails the job as a transient render_timeout, and the next job renders', async () => {
    const started = Date.now();
    const error = await render('/spin').then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    expect(classifyFailure(error)).toMatchObject({ kind: 'transient', code: 'render_timeout' });
    // Deadline + the close grace (2 s) + slack: the hang never holds the worker longer than that.
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 2000 + 1500);
    const next = Date.now();
    expect(pngSize((await render('/ok')).bytes)).toEqual({ width: 640, height: 480 });
    expect(Date.now() - next).toBeLessThan(10_000);
  });

  it('hung pages do not accumulate: single-process SIGKILLs the wedged browser (whole group) and relaunches, multi-process closes the context; no leftovers', async () => {
    const before = host.launches;
    const killsBefore = events.filter((e) => e === 'killed').length;
    // Three hung jobs in a row, then a good one: in single-process mode each hang wedges the
    // browser and forces a kill; in multi-process mode closing the job's context ends its renderer.
    for (let i = 0; i < 3; i++) {
      expect(classifyFailure(await render('/spin').catch((e: unknown) => e))).toMatchObject({ code: 'render_timeout' });
    }
    expect(pngSize((await render('/ok')).bytes)).toEqual({ width: 640, height: 480 });
    const kills = events.filter((e) => e === 'killed').length - killsBefore;
    // Single-process: one kill per hang. Multi-process: none, closing each job's context was enough
    // (a kill here would take every other job's page down with the browser).
    expect(kills).toBe(singleProcess ? 3 : 0);
    // Every kill was followed by exactly one relaunch, and nothing else relaunched.
    expect(host.launches - before).toBe(kills);
    // The spinning renderers did not pile up in the live browser.
    const renderers = await eventually(
      () => inGroup(host.pid!).filter((p) => p.cmdline.includes('--type=renderer')),
      (r) => r.length <= 2,
    );
    expect(renderers.length).toBeLessThanOrEqual(2);
    // Only the live browser's directory remains, and only its own process group is alive.
    await eventually(
      () => readdirSync(scratchRoot).length,
      (n) => n === 1,
    );
    expect(readdirSync(scratchRoot)).toHaveLength(1);
    const live = host.pid!;
    const chromiums = await eventually(
      () => processes().filter((p) => p.cmdline.includes(scratchRoot) && p.pgid !== live),
      (p) => p.length === 0,
    );
    expect(chromiums).toEqual([]);
    expect(zombiesOf(process.pid)).toEqual([]);
  });

  it('close() leaves no process and no directory behind', async () => {
    const pid = host.pid!;
    await host.close();
    expect(
      await eventually(
        () => inGroup(pid),
        (p) => p.length === 0,
      ),
    ).toEqual([]);
    expect(
      await eventually(
        () => readdirSync(scratchRoot),
        (d) => d.length === 0,
      ),
    ).toEqual([]);
  });
});

describe('scratch directories left by processes that died without cleaning up', () => {
  it('are swept (dead worker pid, old unused launch dir); live and fresh ones stay', () => {
    const root = mkdtempSync(join(tmpdir(), 'url2png-sweep-'));
    try {
      const old = new Date(Date.now() - 10 * 60_000);
      for (const d of ['launch-stale', 'launch-fresh', 'worker-4194000-dead', `worker-${process.pid}-live`])
        mkdirSync(join(root, d, 'profile'), { recursive: true });
      utimesSync(join(root, 'launch-stale'), old, old);
      expect(sweepStaleScratch(root)).toBe(2);
      expect(readdirSync(root).sort()).toEqual(['launch-fresh', `worker-${process.pid}-live`]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
