// Pages on an allow-listed origin (127.0.0.1:A) that try to reach a non-allow-listed origin on the
// same host (127.0.0.1:C, a canary per case) by every route a page has. Real worker runtime: real
// egress proxy, real Chromium, real render/settle; only the store is in memory and the resolver is
// the test's. Each case must end with its canary at zero connections.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/contract/config.js';
import { encodeJob, newJob, type Job } from '../../lib/contract/job.js';
import { buildReceipt, signReceipt } from '../../lib/receipts/receipt.js';
import type { ReceiptKey } from '../../lib/receipts/receipt-key.js';
import type { RenderedImage } from '../../lib/capture/render.js';
import { screenshotOptionsSchema } from '../../lib/contract/request.js';
import { createWorkerRuntime, type WorkerRuntime } from '../../lib/worker/worker-runtime.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { MemoryStore, scriptedResolver, startCanary, type Canary } from './support.js';

/**
 * Where the attempt is stopped: by the egress proxy (logged there), or by Chromium itself before any
 * request leaves it (a web page may not load file:, chrome:, view-source: or ftp: resources, open
 * pop-ups headless, or preconnect through a proxy). The Chromium-stopped ones are counted apart:
 * they pass with the in-page scheme guard (lib/capture/page-guard.ts) switched off, so they do not test it;
 * what only the guard stops is tested below, by navigations the browser itself starts.
 */
type Stop = 'proxy' | 'chromium';
interface Vector {
  name: string;
  category: string;
  stop: Stop;
  /** The page body; `c` is the canary origin (http://127.0.0.1:C), `port` its port. */
  page: (c: string, port: number) => string;
  head?: (c: string, port: number) => string;
}

const script = (js: string) => `<script>${js}</script>`;
const swallow = (expr: string) => script(`try { ${expr} } catch (e) {}`);

const VECTORS: Vector[] = [
  { name: 'img src', category: 'image', stop: 'proxy', page: (c) => `<img src="${c}/img.png">` },
  { name: 'img srcset', category: 'image', stop: 'proxy', page: (c) => `<img srcset="${c}/a.png 1x">` },
  {
    name: 'picture source',
    category: 'image',
    stop: 'proxy',
    page: (c) => `<picture><source srcset="${c}/p.webp"><img src="/none.png"></picture>`,
  },
  { name: 'input type=image', category: 'image', stop: 'proxy', page: (c) => `<input type="image" src="${c}/i.png">` },
  { name: 'iframe src', category: 'frame', stop: 'proxy', page: (c) => `<iframe src="${c}/frame"></iframe>` },
  {
    name: 'iframe srcdoc fetching',
    category: 'frame',
    stop: 'proxy',
    page: (c) => `<iframe srcdoc="<img src='${c}/srcdoc.png'>"></iframe>`,
  },
  { name: 'object data', category: 'frame', stop: 'proxy', page: (c) => `<object data="${c}/obj"></object>` },
  { name: 'embed src', category: 'frame', stop: 'proxy', page: (c) => `<embed src="${c}/embed">` },
  { name: 'fetch http', category: 'fetch/XHR', stop: 'proxy', page: (c) => swallow(`fetch('${c}/fetch').catch(() => {})`) },
  {
    name: 'fetch no-cors',
    category: 'fetch/XHR',
    stop: 'proxy',
    page: (c) => swallow(`fetch('${c}/nc', { mode: 'no-cors' }).catch(() => {})`),
  },
  {
    name: 'fetch https (CONNECT)',
    category: 'fetch/XHR',
    stop: 'proxy',
    page: (_c, p) => swallow(`fetch('https://127.0.0.1:${p}/tls').catch(() => {})`),
  },
  {
    name: 'fetch localhost name',
    category: 'fetch/XHR',
    stop: 'proxy',
    page: (_c, p) => swallow(`fetch('http://localhost:${p}/').catch(() => {})`),
  },
  {
    name: 'fetch hex literal 0x7f.1',
    category: 'fetch/XHR',
    stop: 'proxy',
    page: (_c, p) => swallow(`fetch('http://0x7f.1:${p}/').catch(() => {})`),
  },
  {
    name: 'fetch decimal literal 2130706433',
    category: 'fetch/XHR',
    stop: 'proxy',
    page: (_c, p) => swallow(`fetch('http://2130706433:${p}/').catch(() => {})`),
  },
  {
    name: 'fetch IPv4-mapped [::ffff:127.0.0.1]',
    category: 'fetch/XHR',
    stop: 'proxy',
    page: (_c, p) => swallow(`fetch('http://[::ffff:127.0.0.1]:${p}/').catch(() => {})`),
  },
  {
    name: 'XMLHttpRequest',
    category: 'fetch/XHR',
    stop: 'proxy',
    page: (c) => swallow(`const x = new XMLHttpRequest(); x.open('GET', '${c}/xhr'); x.send();`),
  },
  { name: 'sendBeacon', category: 'beacon', stop: 'proxy', page: (c) => swallow(`navigator.sendBeacon('${c}/beacon', 'x')`) },
  {
    name: 'a ping (clicked)',
    category: 'beacon',
    stop: 'proxy',
    page: (c) => `<a id="l" href="#x" ping="${c}/ping">x</a>${swallow(`document.getElementById('l').click()`)}`,
  },
  {
    name: 'CSS background url()',
    category: 'CSS',
    stop: 'proxy',
    page: (c) => `<div style="width:10px;height:10px;background:url('${c}/bg.png')"></div>`,
  },
  { name: 'CSS @import', category: 'CSS', stop: 'proxy', page: () => '', head: (c) => `<style>@import url('${c}/import.css');</style>` },
  {
    name: 'CSS @font-face',
    category: 'CSS',
    stop: 'proxy',
    page: () => `<p style="font-family:evil">x</p>`,
    head: (c) => `<style>@font-face { font-family: evil; src: url('${c}/f.woff2'); }</style>`,
  },
  { name: 'link stylesheet', category: 'CSS', stop: 'proxy', page: () => '', head: (c) => `<link rel="stylesheet" href="${c}/s.css">` },
  { name: 'script src', category: 'script', stop: 'proxy', page: (c) => `<script src="${c}/s.js"></script>` },
  { name: 'dynamic import()', category: 'script', stop: 'proxy', page: (c) => script(`import('${c}/m.js').catch(() => {})`) },
  {
    name: 'form auto-submit POST',
    category: 'form',
    stop: 'proxy',
    page: (c) =>
      `<form id="f" method="post" action="${c}/form"><input name="a" value="b"></form>${script(`document.getElementById('f').submit()`)}`,
  },
  {
    name: 'form GET into iframe',
    category: 'form',
    stop: 'proxy',
    page: (c) =>
      `<iframe name="t"></iframe><form id="f" target="t" action="${c}/form-get"></form>${script(`document.getElementById('f').submit()`)}`,
  },
  {
    name: 'meta refresh',
    category: 'navigation',
    stop: 'proxy',
    page: () => 'x',
    head: (c) => `<meta http-equiv="refresh" content="0;url=${c}/refresh">`,
  },
  { name: 'location.href', category: 'navigation', stop: 'proxy', page: (c) => script(`location.href = '${c}/loc'`) },
  {
    name: 'location.replace after load',
    category: 'navigation',
    stop: 'proxy',
    page: (c) => script(`addEventListener('load', () => location.replace('${c}/replace'))`),
  },
  { name: 'window.open', category: 'pop-up', stop: 'chromium', page: (c) => swallow(`window.open('${c}/popup')`) },
  {
    name: 'target=_blank click',
    category: 'pop-up',
    stop: 'chromium',
    page: (c) => `<a id="l" target="_blank" href="${c}/blank">x</a>${swallow(`document.getElementById('l').click()`)}`,
  },
  { name: 'WebSocket ws://', category: 'WebSocket', stop: 'proxy', page: (_c, p) => swallow(`new WebSocket('ws://127.0.0.1:${p}/ws')`) },
  { name: 'WebSocket wss://', category: 'WebSocket', stop: 'proxy', page: (_c, p) => swallow(`new WebSocket('wss://127.0.0.1:${p}/wss')`) },
  { name: 'dedicated worker fetch', category: 'worker', stop: 'proxy', page: (_c, p) => swallow(`new Worker('/worker.js?port=${p}')`) },
  { name: 'shared worker fetch', category: 'worker', stop: 'proxy', page: (_c, p) => swallow(`new SharedWorker('/worker.js?port=${p}')`) },
  {
    name: 'service worker fetch',
    category: 'worker',
    stop: 'proxy',
    page: (_c, p) => swallow(`navigator.serviceWorker.register('/sw.js?port=${p}').catch(() => {})`),
  },
  { name: 'EventSource', category: 'EventSource', stop: 'proxy', page: (c) => swallow(`new EventSource('${c}/events')`) },
  {
    name: 'link prefetch',
    category: 'prefetch/preconnect',
    stop: 'proxy',
    page: () => '',
    head: (c) => `<link rel="prefetch" href="${c}/prefetch">`,
  },
  {
    name: 'link preload',
    category: 'prefetch/preconnect',
    stop: 'proxy',
    page: () => '',
    head: (c) => `<link rel="preload" as="image" href="${c}/preload.png">`,
  },
  {
    name: 'link preconnect',
    category: 'prefetch/preconnect',
    stop: 'chromium',
    page: () => '<img src="/hold">',
    head: (c) => `<link rel="preconnect" href="${c}">`,
  },
  {
    name: 'link dns-prefetch',
    category: 'prefetch/preconnect',
    stop: 'chromium',
    page: () => '<img src="/hold">',
    head: (c) => `<link rel="dns-prefetch" href="${c}">`,
  },
  { name: 'video src', category: 'media', stop: 'proxy', page: (c) => `<video src="${c}/v.mp4" preload="auto"></video>` },
  { name: 'audio src', category: 'media', stop: 'proxy', page: (c) => `<audio src="${c}/a.mp3" preload="auto"></audio>` },
  { name: 'video poster', category: 'media', stop: 'proxy', page: (c) => `<video poster="${c}/poster.png"></video>` },
  {
    name: 'link modulepreload',
    category: 'prefetch/preconnect',
    stop: 'proxy',
    page: () => '',
    head: (c) => `<link rel="modulepreload" href="${c}/m.js">`,
  },
  {
    name: 'inline SVG image href',
    category: 'SVG',
    stop: 'proxy',
    page: (c) => `<svg width="10" height="10"><image href="${c}/svg.png" width="10" height="10"/></svg>`,
  },
  {
    name: 'SVG document via object',
    category: 'SVG',
    stop: 'proxy',
    page: (_c, p) => `<object type="image/svg+xml" data="/evil.svg?port=${p}"></object>`,
  },
  {
    name: 'SVG feImage',
    category: 'SVG',
    stop: 'proxy',
    page: (c) =>
      `<svg width="10" height="10"><filter id="f"><feImage href="${c}/fe.png"/></filter><rect width="10" height="10" filter="url(#f)"/></svg>`,
  },
  { name: 'redirect of a subresource', category: 'HTTP redirect', stop: 'proxy', page: (_c, p) => `<img src="/redirect?port=${p}">` },
  {
    name: 'redirect of an iframe',
    category: 'HTTP redirect',
    stop: 'proxy',
    page: (_c, p) => `<iframe src="/redirect?port=${p}"></iframe>`,
  },
  {
    name: 'redirect of a fetch',
    category: 'HTTP redirect',
    stop: 'proxy',
    page: (_c, p) => swallow(`fetch('/redirect?port=${p}').catch(() => {})`),
  },
  {
    name: 'WebRTC TURN over TCP',
    category: 'WebRTC',
    stop: 'proxy',
    page: (_c, p) =>
      swallow(
        `const pc = new RTCPeerConnection({ iceServers: [{ urls: 'turn:127.0.0.1:${p}?transport=tcp', username: 'u', credential: 'p' }, { urls: 'stun:127.0.0.1:${p}' }] }); pc.createDataChannel('x'); pc.createOffer().then((o) => pc.setLocalDescription(o));`,
      ),
  },
  { name: 'img file:///etc/passwd', category: 'scheme', stop: 'chromium', page: () => `<img src="file:///etc/passwd">` },
  { name: 'iframe file:///etc/passwd', category: 'scheme', stop: 'chromium', page: () => `<iframe src="file:///etc/passwd"></iframe>` },
  {
    name: 'fetch file:///etc/passwd',
    category: 'scheme',
    stop: 'chromium',
    page: () => swallow(`fetch('file:///etc/passwd').then(() => fetch('/leaked'), () => fetch('/file-blocked'))`),
  },
  { name: 'iframe chrome://version', category: 'scheme', stop: 'chromium', page: () => `<iframe src="chrome://version"></iframe>` },
  { name: 'iframe view-source:', category: 'scheme', stop: 'chromium', page: (c) => `<iframe src="view-source:${c}/vs"></iframe>` },
  { name: 'ftp:// image', category: 'scheme', stop: 'chromium', page: (_c, p) => `<img src="ftp://127.0.0.1:${p}/x.png">` },
];

// Same-origin helpers the vectors use: a worker and a service worker that fetch the canary, an
// SVG document that loads it, a redirect to it, and an image that holds `load` a little.
function helperRoutes(pages: { origin: string }) {
  const port = (req: { url?: string }) => new URL(req.url ?? '/', 'http://x').searchParams.get('port');
  const js = (body: string) => ({ 'content-type': 'text/javascript', 'service-worker-allowed': '/', body });
  return {
    '/worker.js': (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      const r = js(`fetch('http://127.0.0.1:${port(req)}/from-worker').catch(() => {});`);
      res.writeHead(200, { 'content-type': r['content-type'] }).end(r.body);
    },
    '/sw.js': (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      res
        .writeHead(200, { 'content-type': 'text/javascript' })
        .end(`self.addEventListener('install', () => { fetch('http://127.0.0.1:${port(req)}/from-sw').catch(() => {}); });`);
    },
    '/evil.svg': (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      res
        .writeHead(200, { 'content-type': 'image/svg+xml' })
        .end(
          `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="http://127.0.0.1:${port(req)}/from-svg.png" width="10" height="10"/></svg>`,
        );
    },
    '/redirect': (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      res.writeHead(302, { location: `http://127.0.0.1:${port(req)}/redirected` }).end();
    },
    '/hold': (_req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      setTimeout(() => res.writeHead(404).end(), 150);
    },
    '/ok': html(`<h1 style="background:#06c;color:#fff">allowed origin renders</h1>`),
    '/origin': pages.origin,
  };
}

let pages: PageServer;
let runtime: WorkerRuntime;
let store: MemoryStore;
const canaries = new Map<string, Canary>();
let rebindCanary: Canary;
const resolver = scriptedResolver({
  localhost: [['127.0.0.1']],
  // DNS rebinding: a public answer first (what the pre-check sees), loopback on every later lookup.
  'rebind.test': [['93.184.215.14'], ['127.0.0.1']],
  // Several answers, one of them loopback: every one must pass.
  'mixed.test': [['93.184.215.14', '127.0.0.1']],
});
// Workers start asynchronously (their script is fetched first): on a loaded machine 250 ms was
// sometimes too short for a worker's own fetch to reach the proxy before the capture.
const DELAY_MS = { default: 250, worker: 1500 };

async function settle(url: string, delay = DELAY_MS.default) {
  const job = newJob(url, screenshotOptionsSchema.parse({ width: 320, height: 200, delay }));
  const outcome = await runtime.settle({ body: encodeJob(job), receiveCount: 1, remainingMs: () => 120_000 });
  return { outcome, record: store.statuses.get(job.id) };
}

beforeAll(async () => {
  const routes: Record<string, string | import('../../fixtures/pages.js').PageHandler> = {};
  pages = await servePages(routes);
  Object.assign(routes, helperRoutes(pages));
  for (const v of VECTORS) {
    const canary = await startCanary();
    canaries.set(v.name, canary);
    const c = `http://127.0.0.1:${canary.port}`;
    routes[`/case/${VECTORS.indexOf(v)}`] = html(v.page(c, canary.port), v.head?.(c, canary.port) ?? '');
  }
  rebindCanary = await startCanary();
  store = new MemoryStore();
  const cfg = parseConfig({ ...process.env, URL2PNG_EGRESS_ALLOW: pages.hostPort, URL2PNG_RENDER_TIMEOUT_MS: '15000' });
  // Receipts are signed as in production but kept in memory, like the store.
  const receipts = {
    issue: async (job: Job, image: RenderedImage, key: () => Promise<ReceiptKey>) =>
      signReceipt(buildReceipt(job, image, image.facts), await key()),
  };
  runtime = await createWorkerRuntime(cfg, { store, resolver, receipts });
}, 60_000);

afterAll(async () => {
  await runtime?.close();
  await pages?.close();
  for (const c of canaries.values()) await c.close();
  await rebindCanary?.close();
});

describe('pages on the allow-listed origin cannot reach another origin on the same host', () => {
  it('the control page on the allow-listed origin renders', async () => {
    const { outcome, record } = await settle(`${pages.origin}/ok`);
    expect(outcome.status).toBe('done');
    expect(record?.status).toBe('done');
    expect(pages.hits.get('/ok')).toBe(1);
  });

  const byStop = (stop: Stop) => VECTORS.filter((v) => v.stop === stop).length;
  it(`all ${VECTORS.length} in-page vectors (${byStop('proxy')} stopped at the proxy, ${byStop('chromium')} by Chromium itself): the canaries count zero and each attempt is stopped where expected`, async () => {
    const results = await Promise.all(
      VECTORS.map(async (v, i) => {
        const { outcome } = await settle(`${pages.origin}/case/${i}`, v.category === 'worker' ? DELAY_MS.worker : DELAY_MS.default);
        return { v, outcome };
      }),
    );
    const summary = results.map(({ v, outcome }) => {
      const port = canaries.get(v.name)!.port;
      const atProxy = runtime.proxy.refusalLog.some((r) => r.port === port);
      return { name: v.name, status: outcome.status, code: outcome.code, canary: canaries.get(v.name)!.count, atProxy };
    });
    // Every job settled (no crash, no hang), every page was served, and nothing reached a canary.
    for (const [i, s] of summary.entries()) {
      expect.soft(s.status, s.name).toMatch(/^(done|failed)$/);
      expect.soft(pages.hits.get(`/case/${i}`), s.name).toBeGreaterThanOrEqual(1);
      expect.soft(s.canary, s.name).toBe(0);
      // Where the attempt died: in the proxy's log (it was tried and refused) or before it.
      expect.soft(s.atProxy ? 'proxy' : 'chromium', s.name).toBe(VECTORS[i]!.stop);
    }
    expect(pages.hits.get('/file-blocked')).toBe(1);
    expect(pages.hits.get('/leaked')).toBeUndefined();
    const total = [...canaries.values()].reduce((n, c) => n + c.count, 0);
    expect(total).toBe(0);
  });
});

describe('non-http(s) schemes are refused in the page itself (DevTools Fetch interception), where only it stops them', () => {
  // Navigations the browser itself starts (as the worker's page.goto does) are not held to a web
  // page's rules: Chromium opens a local file unless the guard fails it. With the guard switched
  // off, every one of these loads.
  const targets: Array<[string, string]> = [
    ['file:///etc/passwd', 'file:///etc/passwd'],
    ['file: directory listing', 'file:///'],
    ["the browser's own environment, file:///proc/self/environ", 'file:///proc/self/environ'],
  ];
  // (chrome:// pages do not exist in the headless shell: ERR_INVALID_URL without the guard too;
  // view-source: loads its inner http URL, which goes through the proxy like any other.)
  it.each(targets)('a guarded page cannot open %s, and the interception saw it', async (_name, url) => {
    const { guardPage } = await import('../../lib/capture/page-guard.js');
    const browser = await runtime.browsers.get();
    const context = await browser.createBrowserContext();
    try {
      const page = await context.newPage();
      const guard = await guardPage(page);
      await expect(page.goto(url)).rejects.toThrow(`net::ERR_BLOCKED_BY_CLIENT at ${url}`);
      expect(guard.refusedRequests).toEqual([url]);
      // http traffic is not intercepted: the allow-listed page still loads through the proxy.
      const res = await page.goto(`${pages.origin}/ok`);
      expect(res?.status()).toBe(200);
      expect(guard.refusedRequests).toEqual([url]);
    } finally {
      await context.close();
    }
  });
});

describe('top-level navigations the policy refuses end failed url_refused (permanent)', () => {
  const cases: Array<[string, () => string]> = [
    ['a loopback literal', () => `http://127.0.0.1:${rebindCanary.port}/`],
    ['localhost by name', () => `http://localhost:${rebindCanary.port}/`],
    ['an allow-listed page that redirects (302) to the canary', () => `${pages.origin}/redirect?port=${rebindCanary.port}`],
    ['a file: URL put straight on the queue', () => 'file:///etc/passwd'],
    ['a name whose answers include loopback', () => `http://mixed.test:${rebindCanary.port}/`],
  ];
  for (const [name, url] of cases) {
    it(name, async () => {
      const { outcome, record } = await settle(url());
      expect(outcome).toMatchObject({ status: 'failed', code: 'url_refused' });
      expect(record?.status).toBe('failed');
      expect(record?.error?.code).toBe('url_refused');
      expect(record?.error?.message.length).toBeGreaterThan(10);
      expect(rebindCanary.count).toBe(0);
    });
  }

  it('DNS rebinding (public answer first, 127.0.0.1 next) is refused and never connects', async () => {
    const before = resolver.calls.filter((h) => h === 'rebind.test').length;
    const { outcome, record } = await settle(`http://rebind.test:${rebindCanary.port}/`);
    expect(outcome).toMatchObject({ status: 'failed', code: 'url_refused' });
    expect(record?.error?.message).toMatch(/127\.0\.0\.1/);
    // One lookup in the worker's pre-check (public), one in the proxy (loopback), which refused.
    expect(resolver.calls.filter((h) => h === 'rebind.test').length - before).toBe(2);
    expect(runtime.proxy.refusalLog.some((r) => r.host === 'rebind.test' && r.port === rebindCanary.port)).toBe(true);
    expect(rebindCanary.count).toBe(0);
  });

  it('a host name that does not exist ends failed dns_not_found', async () => {
    const { outcome, record } = await settle('http://no-such-host.test/');
    expect(outcome).toMatchObject({ status: 'failed', code: 'dns_not_found' });
    expect(record?.error?.message).toMatch(/does not exist/);
  });
});
