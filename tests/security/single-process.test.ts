// With URL2PNG_CHROMIUM_SINGLE_PROCESS=1 every job's page shares one browser without contexts:
// what a site stores for one job (its own Set-Cookie, localStorage, IndexedDB, Cache Storage, a
// service worker, the HTTP cache) must be gone for the next, and `authentication` (whose HTTP auth
// cache DevTools cannot clear) is refused. Real stack, real single-process Chromium.
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { startTestStack } from '../support/stack.js';
import { shoot, shootFailing } from '../options/shoot.js';

let pages: PageServer;
let stack: LocalStack;
/** What the second job's page reported: the Cookie header it was sent, and what its script found. */
const seen: { cookie?: string; report?: URLSearchParams; cachedHits: number } = { cachedHits: 0 };

const setState = html(
  `<link rel="stylesheet" href="/asset.css"><h1>sets state</h1><script>
    localStorage.setItem('tenant', 'first');
    sessionStorage.setItem('tenant', 'first');
    indexedDB.open('tenant-db').onupgradeneeded = (e) => e.target.result.createObjectStore('s');
    caches.open('tenant-cache').then((c) => c.put('/cached', new Response('first')));
    navigator.serviceWorker?.register('/sw.js').catch(() => undefined);
  </script>`,
);
const report = html(
  `<link rel="stylesheet" href="/asset.css"><h1>reports state</h1><script>
    (async () => {
      const dbs = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name).join(',') : '';
      const cacheNames = (await caches.keys()).join(',');
      const workers = navigator.serviceWorker ? (await navigator.serviceWorker.getRegistrations()).length : 0;
      const q = new URLSearchParams({ cookie: document.cookie, local: localStorage.getItem('tenant') ?? '', dbs, cacheNames, workers: String(workers) });
      await fetch('/report?' + q);
      document.body.dataset.done = '1';
    })();
  </script>`,
);

beforeAll(async () => {
  pages = await servePages({
    '/set': (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': 'site-session=first-tenant; Path=/; Max-Age=3600' }).end(setState),
    '/sw.js': (_req, res) => res.writeHead(200, { 'content-type': 'text/javascript' }).end('self.addEventListener("fetch", () => {});'),
    // Cacheable for an hour: a second job must fetch it again, not take the first's copy.
    '/asset.css': (_req, res) => {
      seen.cachedHits++;
      res.writeHead(200, { 'content-type': 'text/css', 'cache-control': 'public, max-age=3600' }).end('h1 { color: #c00 }');
    },
    '/show': (req: http.IncomingMessage, res) => {
      seen.cookie = req.headers.cookie;
      res.writeHead(200, { 'content-type': 'text/html' }).end(report);
    },
    '/report': (req, res) => {
      seen.report = new URL(req.url ?? '/', 'http://x').searchParams;
      res.writeHead(204).end();
    },
  });
  stack = await startTestStack({ allow: [pages.hostPort], env: { URL2PNG_CHROMIUM_SINGLE_PROCESS: '1' } });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
  delete process.env.URL2PNG_CHROMIUM_SINGLE_PROCESS;
});

describe('single-process Chromium between two jobs', () => {
  it("the second job sees none of what the first job's site stored: cookie, storage, caches, service worker, HTTP cache", async () => {
    // The first job's site sets a cookie and storage and loads a cacheable stylesheet.
    await shoot(stack.apiUrl, { url: `${pages.origin}/set`, width: 640, height: 400, delay: 500 });
    expect(seen.cachedHits).toBe(1);
    await shoot(stack.apiUrl, { url: `${pages.origin}/show`, width: 640, height: 400, waitForSelector: 'body[data-done]' });
    expect(seen.cookie).toBeUndefined();
    expect(Object.fromEntries(seen.report ?? [])).toEqual({ cookie: '', local: '', dbs: '', cacheNames: '', workers: '0' });
    expect(seen.cachedHits).toBe(2); // fetched again, not taken from the first job's HTTP cache
  }, 180_000);

  it('authentication is refused with a message that says what to send instead', async () => {
    const status = await shootFailing(stack.apiUrl, { url: `${pages.origin}/show`, authentication: { username: 'u', password: 'p' } });
    expect(status.status).toBe('failed');
    expect(status.error).toMatchObject({ code: 'invalid_options', message: expect.stringContaining('send the credentials in headers') });
  }, 120_000);
});
