// lib/capture/isolated-page.ts's PageReserve with a real Chromium: every job a page of its own (its
// own context and proxy port), the next one opened ahead, and a page opened ahead never handed out
// once it is no good (its browser killed, its renderer crashed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserHost } from '../../lib/capture/browser.js';
import { PageReserve, type IsolatedPage } from '../../lib/capture/isolated-page.js';
import { renderScreenshot } from '../../lib/capture/render.js';
import { EgressGuard, startEgressProxy, type EgressProxy } from '../../lib/egress/egress.js';
import { EgressAllowList } from '../../lib/egress/url-policy.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { eventually } from '../support/eventually.js';

let pages: PageServer;
let guard: EgressGuard;
let proxy: EgressProxy;
let host: BrowserHost;
let scratchRoot: string;

beforeAll(async () => {
  pages = await servePages({ '/ok': html('<h1>fine</h1>') });
  guard = new EgressGuard(new EgressAllowList([pages.hostPort]));
  proxy = await startEgressProxy(guard);
  scratchRoot = mkdtempSync(join(tmpdir(), 'url2png-reserve-'));
  host = new BrowserHost({ executablePath: process.env.CHROMIUM_PATH, singleProcess: false, proxy, scratchRoot });
});

afterAll(async () => {
  await host?.close();
  await proxy?.close();
  await pages?.close();
  rmSync(scratchRoot, { recursive: true, force: true });
});

/** Contexts besides the default one: the jobs' and the one waiting. */
const jobContexts = (browser: Browser) => browser.browserContexts().length - 1;
const release = async (taken: IsolatedPage) => {
  await taken.context?.close();
  await taken.session?.close();
};

describe('PageReserve', () => {
  it('gives each job a page of its own (context, proxy port) and opens the next one ahead', async () => {
    const reserve = new PageReserve(proxy);
    const browser = await host.get();
    const first = await reserve.take(browser);
    await eventually(
      async () => jobContexts(browser),
      (n) => n === 2,
      10_000,
    );
    const second = await reserve.take(browser);
    expect(second.page).not.toBe(first.page);
    expect(second.context).not.toBe(first.context);
    expect(second.session?.url).not.toBe(first.session?.url);
    expect(second.session?.connections).toEqual([]);
    await eventually(
      async () => jobContexts(browser),
      (n) => n === 3,
      10_000,
    );
    await reserve.close();
    expect(jobContexts(browser)).toBe(2); // the page waiting is closed, the jobs' are theirs to close
    await release(first);
    await release(second);
  });

  it("renders through it: each job's receipt facts name only its own connections", async () => {
    const reserve = new PageReserve(proxy);
    const deps = { browsers: host, guard, proxy, pages: reserve };
    const url = `${pages.origin}/ok`;
    const one = await renderScreenshot({ url, options: { width: 320, height: 200 } }, deps, 15_000);
    const two = await renderScreenshot({ url, options: { width: 320, height: 200 } }, deps, 15_000);
    for (const image of [one, two]) expect(image.facts.connections).toEqual([expect.objectContaining({ port: pages.port })]);
    await reserve.close();
  });

  it('never hands out a page opened ahead in a browser since killed, or whose renderer crashed while it waited', async () => {
    const reserve = new PageReserve(proxy);
    const before = await host.get();
    await release(await reserve.take(before));
    host.kill('test: the browser is gone');
    const after = await host.get();
    expect(after).not.toBe(before);
    const fresh = await reserve.take(after);
    expect(fresh.page.browser()).toBe(after);
    expect(fresh.page.isClosed()).toBe(false);
    await release(fresh);

    // The page opened ahead by that take: its renderer crashes while it waits.
    const waiting = await eventually(
      async () => after.browserContexts().filter((c) => c !== after.defaultBrowserContext()),
      (contexts) => contexts.length === 1,
      10_000,
    );
    const [crashing] = await eventually(
      () => waiting[0]!.pages(),
      (list) => list.length === 1,
      10_000,
    );
    const crashed = new Promise((resolve) => crashing!.once('error', resolve));
    // Page.crash never answers: the renderer is gone before it could.
    void (await crashing!.createCDPSession()).send('Page.crash').catch(() => undefined);
    await crashed;
    const next = await reserve.take(after);
    expect(next.page).not.toBe(crashing);
    expect(await next.page.evaluate('1 + 1')).toBe(2);
    await release(next);
    await reserve.close();
  });
});
