// Pages that behave like real (and hostile) sites, rendered by the worker's own render path with a
// real Chromium behind the real egress proxy: what the image shows is the page the browser ended
// on, dialogs never block, a page whose `load` never fires is captured at the load deadline, a
// redirect to a refused address is refused for good, a page cannot fake the proxy's refusal, every
// capture mode keeps to the pixel budget, and a page that crashes its renderer fails alone.
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFailure } from '../../lib/contract/failures.js';
import { startRenderHarness, type RenderHarness } from '../../fixtures/render-harness.js';
import { renderScreenshot } from '../../lib/capture/render.js';
import { LIMITS, type ScreenshotOptionsInput } from '../../lib/contract/request.js';
import { decodePng, imageSize, near } from '../support/images.js';
import { hangingPage, html, neverLoadingPage, servePages, type PageServer } from '../../fixtures/pages.js';
import { processes } from '../../fixtures/procs.js';

const GREEN: [number, number, number] = [0, 200, 0];
const RED = 'background:rgb(220,0,0)';
const final = html('<h1>final</h1>', '<style>body{background:rgb(0,200,0)}</style>');
const red = (body: string, head = '') => html(body, `<style>body{${RED}}</style>${head}`);

let pages: PageServer;
let harness: RenderHarness;

const TIMEOUT_MS = 8000;
const LOAD_TIMEOUT_MS = 1500;

beforeAll(async () => {
  const routes: Record<string, string | ((req: http.IncomingMessage, res: http.ServerResponse) => void)> = {
    '/final': final,
    '/meta0': red('<h1>meta 0</h1>', '<meta http-equiv="refresh" content="0; url=/final">'),
    '/meta1': red('<h1>meta 1</h1>', '<meta http-equiv="refresh" content="1;url=/final">'),
    '/href-after-load': red(
      '<h1>then away</h1><script>addEventListener("load", () => setTimeout(() => { location.href = "/final"; }, 300))</script>',
    ),
    '/href-while-parsing': red('<script>location.href = "/final"</script><h1>never seen</h1>'),
    '/replace-then-push': red('<script>addEventListener("load", () => setTimeout(() => location.replace("/pushing"), 100))</script>'),
    '/pushing': red(
      '<h1>history</h1><script>addEventListener("load", () => setTimeout(() => { history.pushState({}, "", "/pushed"); document.body.style.background = "rgb(0,200,0)"; }, 300))</script>',
    ),
    '/redirect-chain': (_req, res) => res.writeHead(302, { location: '/href-after-load' }).end(),
    // Pages that keep changing after load without a navigation or anything else the browser reports:
    // a page at rest is captured soon after load, so these must be seen to be still moving.
    '/repaint-by-timer': red(
      '<script>addEventListener("load", () => setTimeout(() => { document.body.style.background = "rgb(0,200,0)"; }, 300))</script>',
    ),
    '/repaint-by-string-timer': red(
      `<script>addEventListener("load", () => setTimeout("document.body.style.background = 'rgb(0,200,0)'", 300))</script>`,
    ),
    '/navigate-by-interval': red(
      '<script>let ticks = 0; addEventListener("load", () => setInterval(() => { if (++ticks === 3) location.href = "/final"; }, 100))</script>',
    ),
    '/navigate-after-fetch': red(
      '<script>addEventListener("load", () => fetch("/slow-answer").then((r) => r.text()).then(() => { location.href = "/final"; }))</script>',
    ),
    '/slow-answer': (_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), 400),
    // What the page sees of the timer functions is what it would see without the worker.
    '/native-timers': red(
      '<script>const id = setTimeout(() => { document.body.style.background = "rgb(0,0,255)"; }, 100); clearTimeout(id);' +
        'const native = [setTimeout, setInterval, clearTimeout, clearInterval].every((f) => /\\[native code\\]/.test(String(f)));' +
        'const names = [setTimeout.name, setInterval.name, clearTimeout.name, clearInterval.name].join();' +
        'const iv = setInterval(() => {}, 50); clearInterval(iv);' +
        'if (native && names === "setTimeout,setInterval,clearTimeout,clearInterval" && typeof id === "number" && typeof iv === "number") document.body.style.background = "rgb(0,200,0)";</script>',
    ),
    '/dialogs': red(
      '<script>alert("a"); confirm("b"); prompt("c"); document.addEventListener("DOMContentLoaded", () => { document.body.style.background = "rgb(0,200,0)"; alert("again"); })</script><h1>dialogs</h1>',
    ),
    '/beforeunload': red(
      '<script>onbeforeunload = (e) => { e.preventDefault(); return "stay?"; }; addEventListener("load", () => setTimeout(() => { location.href = "/final"; }, 200))</script>',
    ),
    // A sub-resource that never answers: `load` never fires.
    '/stuck-image': html('<h1>stuck</h1><img src="/never">', '<style>body{background:rgb(0,200,0)}</style>'),
    '/never': hangingPage,
    // The document itself never finishes.
    '/stuck-document': neverLoadingPage,
    // The server takes the request and never answers at all: nothing to capture.
    '/silent': hangingPage,
    '/to-private': (_req, res) => res.writeHead(302, { location: 'http://10.0.0.1/' }).end(),
    '/chain-to-metadata': (_req, res) => res.writeHead(301, { location: '/hop' }).end(),
    '/hop': (_req, res) => res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
    '/script-to-private': red(
      '<script>addEventListener("load", () => setTimeout(() => { location.href = "http://192.168.1.1/"; }, 200))</script>',
    ),
    '/script-to-private-tls': red(
      '<script>addEventListener("load", () => setTimeout(() => { location.href = "https://10.1.2.3/"; }, 200))</script>',
    ),
    // A page that claims to be the proxy's refusal, with and without a guessed token.
    '/fake-refusal': (_req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/html', 'x-url2png-egress': 'dns_unavailable', 'x-url2png-egress-token': '0'.repeat(32) })
        .end(final),
    '/tall': html('<div style="height:40000px;background:rgb(0,200,0)">tall</div>'),
    '/huge-element': html('<div id="big" style="width:3000px;height:30000px;background:rgb(0,200,0)">huge</div>'),
    '/hog': html('<h1>hog</h1><script>const keep = []; for (;;) keep.push(new Array(1e7).fill(0));</script>'),
    '/env': final,
  };
  pages = await servePages(routes);
  harness = await startRenderHarness([pages.hostPort], 'real-pages');
});

afterAll(async () => {
  await harness?.close();
  await pages?.close();
});

const render = (
  path: string,
  options: ScreenshotOptionsInput = { width: 400, height: 300 },
  timeoutMs = TIMEOUT_MS,
  loadTimeoutMs = LOAD_TIMEOUT_MS,
) =>
  renderScreenshot(
    { url: `${pages.origin}${path}`, options },
    { browsers: harness.host, guard: harness.guard },
    { timeoutMs, loadTimeoutMs },
  );
const failureOf = async (path: string, options?: ScreenshotOptionsInput, timeoutMs?: number) =>
  classifyFailure(
    await render(path, options, timeoutMs).then(
      () => 'rendered',
      (e: unknown) => e,
    ),
  );
/** A 50-megapixel capture takes seconds of CPU (~15 s on a loaded 2-core machine). */
const BIG_CAPTURE_MS = 45_000;
const isGreen = (bytes: Uint8Array) => near(decodePng(bytes).at(200, 250), GREEN);

describe('the image shows the page the browser ended on', () => {
  it.each([
    ['meta refresh, 0 s', '/meta0'],
    ['meta refresh, 1 s', '/meta1'],
    ['location.href 300 ms after load', '/href-after-load'],
    ['location.href while parsing', '/href-while-parsing'],
    ['location.replace, then history.pushState and a repaint', '/replace-then-push'],
    ['a 302 to a page that then navigates by script', '/redirect-chain'],
    ['a beforeunload handler on the page that navigates away', '/beforeunload'],
    ['a repaint from a timer due 300 ms after load', '/repaint-by-timer'],
    ['a repaint from a string timer due 300 ms after load', '/repaint-by-string-timer'],
    ['location.href from the third tick of a 100 ms interval', '/navigate-by-interval'],
    ['location.href once a fetch started at load has answered (400 ms)', '/navigate-after-fetch'],
    ['the timer functions the page sees still look and work as the native ones', '/native-timers'],
  ])('%s', async (_name, path) => {
    const started = Date.now();
    const image = await render(path);
    expect(isGreen(image.bytes)).toBe(true);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
  });

  it('alert, confirm and prompt while loading are dismissed: the page loads (no load deadline needed) and is captured', async () => {
    const started = Date.now();
    expect(isGreen((await render('/dialogs', undefined, 20_000, 10_000)).bytes)).toBe(true);
    expect(Date.now() - started).toBeLessThan(8000);
  });
});

describe('the load deadline', () => {
  it.each([
    ['a sub-resource that never answers', '/stuck-image'],
    ['a document that never finishes', '/stuck-document'],
  ])('%s: captured as it stands at the load deadline, not failed', async (_name, path) => {
    const started = Date.now();
    const image = await render(path);
    const took = Date.now() - started;
    expect(imageSize(image.bytes)).toEqual({ width: 400, height: 300 });
    if (path === '/stuck-image') expect(isGreen(image.bytes)).toBe(true);
    expect(took).toBeGreaterThanOrEqual(LOAD_TIMEOUT_MS);
    expect(took).toBeLessThan(LOAD_TIMEOUT_MS + 3000);
  });

  it('a server that never answers at all runs into the render deadline: transient render_timeout', async () => {
    expect(await failureOf('/silent')).toMatchObject({ kind: 'transient', code: 'render_timeout' });
  });
});

describe('refusals cannot be dodged or faked', () => {
  it.each([
    ['a 302 to a private address', '/to-private'],
    ['a redirect chain ending on the metadata service', '/chain-to-metadata'],
    ['a script navigating to a private address after load', '/script-to-private'],
    ['a script navigating to a private https address after load', '/script-to-private-tls'],
  ])('%s: failed url_refused, permanent', async (_name, path) => {
    expect(await failureOf(path)).toMatchObject({ kind: 'permanent', code: 'url_refused' });
  });

  it("a page's own x-url2png-egress header is just a header: rendered, not a retried DNS failure", async () => {
    expect(isGreen((await render('/fake-refusal')).bytes)).toBe(true);
  });
});

describe('pixel budget', () => {
  it(`fullPage at width 3840 x deviceScaleFactor 3 is cut to the budget (${LIMITS.maxImagePixels} pixels)`, async () => {
    const image = await render('/tall', { width: 3840, height: 400, deviceScaleFactor: 3, fullPage: true, format: 'jpeg' }, BIG_CAPTURE_MS);
    const { width, height } = imageSize(image.bytes);
    expect(width).toBe(3840 * 3);
    expect(width * height).toBeLessThanOrEqual(LIMITS.maxImagePixels);
    expect(height).toBeGreaterThan(400 * 3);
  });

  it('a selector capture of a 3000 x 30000 element at deviceScaleFactor 3 is cut to the budget', async () => {
    const image = await render(
      '/huge-element',
      { width: 800, height: 600, deviceScaleFactor: 3, selector: '#big', format: 'jpeg' },
      BIG_CAPTURE_MS,
    );
    const { width, height } = imageSize(image.bytes);
    expect(width).toBe(9000);
    expect(width * height).toBeLessThanOrEqual(LIMITS.maxImagePixels);
  });
});

describe('a page that crashes its renderer', () => {
  it('fails its own job as page_crashed (transient: retried, then failed) while a page beside it renders', async () => {
    // Its heap (tuning.json rendererHeapMb) fills in seconds; the deadline leaves room for a loaded machine.
    const [hog, good] = await Promise.all([failureOf('/hog', undefined, 40_000), render('/final')]);
    expect(hog).toMatchObject({ kind: 'transient', code: 'page_crashed' });
    expect(isGreen(good.bytes)).toBe(true);
    expect(isGreen((await render('/final')).bytes)).toBe(true);
  });
});

describe('the browser environment', () => {
  it('Chromium runs without AWS credentials, the webhook secret or any URL2PNG_* variable', async () => {
    process.env.URL2PNG_WEBHOOK_SECRET = 'not-for-the-browser';
    process.env.AWS_SECRET_ACCESS_KEY = 'not-for-the-browser-either';
    await harness.host.close();
    await render('/env');
    const browser = processes().filter(
      (p) => p.ppid === process.pid && /chrom/i.test(p.cmdline) && p.cmdline.includes(harness.scratchRoot),
    );
    expect(browser.length).toBeGreaterThan(0);
    const environ = readFileSync(`/proc/${browser[0]!.pid}/environ`, 'utf8').split('\0');
    expect(environ.filter((e) => /^(AWS_|URL2PNG_)/.test(e))).toEqual([]);
    expect(environ.some((e) => e.startsWith('TMPDIR='))).toBe(true);
  });
});
