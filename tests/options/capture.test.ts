// Every capture field of POST /screenshots, checked on the image that comes back through the
// HTTP API of the local stack (real SQS/S3 emulator, real worker, real Chromium).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageHandler, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack } from '../support/stack.js';
import { decodePng, imageSize, near, sniffFormat } from '../support/images.js';
import { shoot, shootFailing } from './shoot.js';

const WHITE: [number, number, number] = [255, 255, 255];
const RED: [number, number, number] = [255, 0, 0];
const GREEN: [number, number, number] = [0, 255, 0];
const BLUE: [number, number, number] = [0, 0, 255];
const BLACK: [number, number, number] = [0, 0, 0];

const block = (id: string, colour: string, css = 'left:0;top:0;width:200px;height:200px') =>
  `<div id="${id}" class="${id}" style="position:absolute;${css};background:${colour}"></div>`;

const after =
  (ms: number, respond: PageHandler): PageHandler =>
  (req, res) =>
    void setTimeout(() => respond(req, res), ms);

let pages: PageServer;
let stack: LocalStack;
let url: (path: string) => string;

beforeAll(async () => {
  pages = await servePages({
    '/plain': html('<p>plain</p>'),
    '/dark': html('<p>theme</p>', '<style>body{background:#fff} @media (prefers-color-scheme: dark){body{background:#000}}</style>'),
    '/ads': html(`${block('ad', '#f00')}${block('keep', '#00f', 'left:300px;top:0;width:200px;height:200px')}`),
    // #late appears 2.5 s after load: only a capture that waits for it can see green.
    '/late': html(
      `<script>addEventListener('load', () => setTimeout(() => document.body.insertAdjacentHTML('beforeend', '${block('late', '#0f0')}'), 2500))</script>`,
    ),
    '/box': html(block('card', '#00f', 'left:40px;top:30px;width:300px;height:120px')),
    // 5000 px tall; the block at y=4000 turns green only once it has been scrolled into view.
    '/tall': html(
      `<div style="height:5000px;position:relative">${block('lazy', '#888', 'left:0;top:4000px;width:200px;height:200px')}</div>
       <script>new IntersectionObserver((es) => es.forEach((e) => { if (e.isIntersecting) e.target.style.background = '#0f0' })).observe(document.getElementById('lazy'))</script>`,
    ),
    '/huge': html('<div style="height:30000px;background:linear-gradient(#fff,#00f)"></div>'),
    // Random noise (seeded): JPEG/WebP quality makes a visible difference in size.
    '/noise': html(
      `<canvas id="c" width="640" height="400"></canvas><script>
        let s = 42; const r = () => (s = (s * 16807) % 2147483647) % 256;
        const c = document.getElementById('c').getContext('2d'); const d = c.createImageData(640, 400);
        for (let i = 0; i < d.data.length; i += 4) { d.data[i] = r(); d.data[i+1] = r(); d.data[i+2] = r(); d.data[i+3] = 255; }
        c.putImageData(d, 0, 0);</script>`,
    ),
    // `load` waits for a slow image (3 s); domcontentloaded does not. The load handler paints blue.
    '/slow-load': html(
      `<img src="/slow.png" width="1" height="1"><script>addEventListener('load', () => document.body.style.background = '#00f')</script>`,
    ),
    '/slow.png': after(3000, (_req, res) => res.writeHead(404).end()),
    // After load, a fetch that takes 1.5 s paints green: only networkidle waits for it.
    '/idle': html(
      `<script>addEventListener('load', () => fetch('/slow-data').then(() => document.body.style.background = '#0f0'))</script>`,
    ),
    '/slow-data': after(1500, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')),
  });
  url = (path) => `${pages.origin}${path}`;
  stack = await startTestStack({ allow: [pages.hostPort], workerConcurrency: 2 });
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
});

describe('validation: each invalid value is a 400 naming the field and its bounds', () => {
  it.each([
    [{ width: 319 }, /width must be at least 320 \(allowed: 320 to 3840\)/],
    [{ height: 2161 }, /height must be at most 2160 \(allowed: 200 to 2160\)/],
    [{ deviceScaleFactor: 4 }, /deviceScaleFactor must be at most 3 \(allowed: 1 to 3\)/],
    [{ deviceScaleFactor: 0.5 }, /deviceScaleFactor must be at least 1/],
    [{ fullPage: 'yes' }, /fullPage must be true or false/],
    [{ format: 'gif' }, /format must be one of "png", "jpeg", "webp"/],
    [{ format: 'jpeg', quality: 0 }, /quality must be at least 1 \(allowed: 1 to 100\)/],
    [{ format: 'webp', quality: 101 }, /quality must be at most 100/],
    [{ quality: 50 }, /quality applies to jpeg and webp only/],
    [{ waitUntil: 'networkidle0' }, /waitUntil must be one of "load", "domcontentloaded", "networkidle"/],
    [{ delay: 10_001 }, /delay must be at most 10000 \(allowed: 0 to 10000\)/],
    [{ delay: -1 }, /delay must be at least 0/],
    [{ waitForSelector: '' }, /waitForSelector must not be empty/],
    [{ selector: 'x'.repeat(501) }, /selector must be at most 500 characters/],
    [{ darkMode: 1 }, /darkMode must be true or false/],
    [{ hideSelectors: '.ad' }, /hideSelectors must be an array of CSS selector strings/],
    [{ hideSelectors: Array.from({ length: 21 }, (_, i) => `.a${i}`) }, /hideSelectors must have at most 20 selectors/],
    [{ cache: 0 }, /cache must be true, false or a whole number of seconds from 1 to 604800/],
    [{ cache: 'yes' }, /cache must be true, false or a whole number of seconds/],
    [{ callbackUrl: 'ftp://example.com/hook' }, /callbackUrl scheme "ftp" is not allowed/],
    [{ callbackUrl: 'http://10.0.0.7/hook' }, /callbackUrl points at a private or reserved address/],
  ])('%j', async (fields, message) => {
    const { res, json } = await postScreenshot(stack.apiUrl, { url: url('/plain'), ...fields });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect((json as { error: { message: string } }).error.message).toMatch(message);
  });
});

describe('capture fields, verified on the returned image', () => {
  // Jobs run concurrently (as a real queue would); each test awaits its own.
  const shots = new Map<string, ReturnType<typeof shoot>>();
  const job = (name: string, body: Record<string, unknown>) => {
    if (!shots.has(name)) shots.set(name, shoot(stack.apiUrl, body));
    return shots.get(name)!;
  };
  beforeAll(() => {
    job('default', { url: url('/late') });
    job('viewport', { url: url('/plain'), width: 640, height: 480 });
    job('dsf', { url: url('/plain'), width: 400, height: 300, deviceScaleFactor: 2 });
    job('fullPage', { url: url('/tall'), width: 320, fullPage: true });
    job('fullPageCap', { url: url('/huge'), width: 320, fullPage: true, format: 'webp' });
    job('jpeg10', { url: url('/noise'), width: 640, height: 400, format: 'jpeg', quality: 10 });
    job('jpeg95', { url: url('/noise'), width: 640, height: 400, format: 'jpeg', quality: 95 });
    job('webp', { url: url('/noise'), width: 640, height: 400, format: 'webp' });
    job('dcl', { url: url('/slow-load'), width: 320, height: 200, waitUntil: 'domcontentloaded' });
    job('load', { url: url('/slow-load'), width: 320, height: 200 });
    job('idle', { url: url('/idle'), width: 320, height: 200, waitUntil: 'networkidle' });
    job('noIdle', { url: url('/idle'), width: 320, height: 200, waitUntil: 'load' });
    job('delay', { url: url('/late'), delay: 4000 });
    job('waitForSelector', { url: url('/late'), waitForSelector: '#late' });
    job('selector', { url: url('/box'), selector: '#card' });
    job('selectorDsf', { url: url('/box'), selector: '#card', deviceScaleFactor: 2 });
    job('light', { url: url('/dark') });
    job('dark', { url: url('/dark'), darkMode: true });
    job('ads', { url: url('/ads') });
    job('hidden', { url: url('/ads'), hideSelectors: ['.ad', 'this is not a selector ((('] });
  });

  it('defaults: a 1280x800 PNG served as image/png from a .png key', async () => {
    const shot = await job('default', {});
    expect(sniffFormat(shot.bytes)).toBe('png');
    expect(imageSize(shot.bytes)).toEqual({ width: 1280, height: 800 });
    expect(shot.contentType).toBe('image/png');
    expect(new URL(shot.imageUrl).pathname).toMatch(/\/images\/[0-9a-f-]{36}\.png$/);
  });

  it('width, height: the viewport', async () => {
    expect(imageSize((await job('viewport', {})).bytes)).toEqual({ width: 640, height: 480 });
  });

  it('deviceScaleFactor: 400x300 at 2x is an 800x600 image', async () => {
    expect(imageSize((await job('dsf', {})).bytes)).toEqual({ width: 800, height: 600 });
  });

  it('fullPage: the whole 5000 px height, scrolled first so the lazy block loaded', async () => {
    const png = decodePng((await job('fullPage', {})).bytes);
    expect({ width: png.width, height: png.height }).toEqual({ width: 320, height: 5000 });
    expect(near(png.at(100, 4100), GREEN)).toBe(true);
  });

  it('fullPage: past the maximum (webp: 16383 px) the image is cut and the status says truncated', async () => {
    const shot = await job('fullPageCap', {});
    expect(imageSize(shot.bytes)).toEqual({ width: 320, height: 16383 });
    expect(shot.status).toMatchObject({ status: 'done', truncated: true });
  });

  it('format jpeg + quality: JPEG bytes, image/jpeg, .jpg key; quality 10 is smaller than 95', async () => {
    const [low, high] = await Promise.all([job('jpeg10', {}), job('jpeg95', {})]);
    for (const shot of [low, high]) {
      expect(sniffFormat(shot.bytes)).toBe('jpeg');
      expect(imageSize(shot.bytes)).toEqual({ width: 640, height: 400 });
      expect(shot.contentType).toBe('image/jpeg');
      expect(new URL(shot.imageUrl).pathname).toMatch(/\.jpg$/);
    }
    expect(low.bytes.length * 3).toBeLessThan(high.bytes.length);
  });

  it('format webp: WebP bytes, image/webp, .webp key', async () => {
    const shot = await job('webp', {});
    expect(sniffFormat(shot.bytes)).toBe('webp');
    expect(imageSize(shot.bytes)).toEqual({ width: 640, height: 400 });
    expect(shot.contentType).toBe('image/webp');
    expect(new URL(shot.imageUrl).pathname).toMatch(/\.webp$/);
  });

  it('waitUntil domcontentloaded captures before the slow image; load after it', async () => {
    const [dcl, load] = await Promise.all([job('dcl', {}), job('load', {})]);
    expect(near(decodePng(dcl.bytes).at(100, 100), WHITE)).toBe(true);
    expect(near(decodePng(load.bytes).at(100, 100), BLUE)).toBe(true);
  });

  it('waitUntil networkidle waits for the fetch that load does not', async () => {
    const [idle, load] = await Promise.all([job('idle', {}), job('noIdle', {})]);
    expect(near(decodePng(idle.bytes).at(100, 100), GREEN)).toBe(true);
    expect(near(decodePng(load.bytes).at(100, 100), WHITE)).toBe(true);
  });

  it('delay: waiting 4 s after load shows the block that appears at 2.5 s; no delay does not', async () => {
    const [delayed, plain] = await Promise.all([job('delay', {}), job('default', {})]);
    expect(near(decodePng(delayed.bytes).at(100, 100), GREEN)).toBe(true);
    expect(near(decodePng(plain.bytes).at(100, 100), WHITE)).toBe(true);
  });

  it('waitForSelector: the capture waits until #late is visible', async () => {
    expect(near(decodePng((await job('waitForSelector', {})).bytes).at(100, 100), GREEN)).toBe(true);
  });

  it("selector: only the element's 300x120 box (600x240 at 2x), all of it the element", async () => {
    const png = decodePng((await job('selector', {})).bytes);
    expect({ width: png.width, height: png.height }).toEqual({ width: 300, height: 120 });
    for (const [x, y] of [
      [0, 0],
      [299, 0],
      [0, 119],
      [299, 119],
      [150, 60],
    ] as const)
      expect(near(png.at(x, y), BLUE)).toBe(true);
    expect(imageSize((await job('selectorDsf', {})).bytes)).toEqual({ width: 600, height: 240 });
  });

  it('darkMode: prefers-color-scheme dark paints the body black; light (default) white', async () => {
    const [light, dark] = await Promise.all([job('light', {}), job('dark', {})]);
    expect(near(decodePng(light.bytes).at(640, 400), WHITE)).toBe(true);
    expect(near(decodePng(dark.bytes).at(640, 400), BLACK)).toBe(true);
  });

  it('hideSelectors: .ad is hidden (an unparsable selector beside it changes nothing else)', async () => {
    const [shown, hidden] = await Promise.all([job('ads', {}), job('hidden', {})]);
    expect(near(decodePng(shown.bytes).at(100, 100), RED)).toBe(true);
    expect(near(decodePng(hidden.bytes).at(100, 100), WHITE)).toBe(true);
    expect(near(decodePng(hidden.bytes).at(400, 100), BLUE)).toBe(true);
  });

  it('images carry a long Cache-Control (they never change for a job id)', async () => {
    // A year, private (presigned URLs only), immutable: an image key is never written twice.
    expect((await job('viewport', {})).cacheControl).toBe('private, max-age=31536000, immutable');
  });
});

describe('selector failures are permanent, with a reason', () => {
  it('a selector that matches nothing fails the job with selector_not_found', async () => {
    const settled = await shootFailing(stack.apiUrl, { url: url('/plain'), selector: '#missing' });
    expect(settled.status).toBe('failed');
    expect(settled.error?.code).toBe('selector_not_found');
  });
});
