// deterministic: true through the local stack: a page that draws Date.now(), Math.random(), a CSS
// animation, a Web Animation and a requestAnimationFrame loop gives pixel-identical images in two
// deterministic captures, and different ones without; the same across two worker processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { decodePng } from '../support/images.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack } from '../support/stack.js';
import { shoot } from '../options/shoot.js';

const restless = html(
  `<div id="text"></div><div id="box"></div><div id="waa"></div><canvas id="c" width="600" height="60"></canvas><input id="field" autofocus value="caret">
  <script>
    document.getElementById('text').textContent = Date.now() + ' ' + new Date().toISOString() + ' ' + Math.random().toFixed(12);
    document.getElementById('waa').animate([{ transform: 'rotate(0deg)' }, { transform: 'rotate(360deg)' }], { duration: 700, iterations: Infinity });
    const c = document.getElementById('c').getContext('2d');
    const draw = (t) => { c.clearRect(0, 0, 600, 60); c.fillStyle = '#f80'; c.fillRect((t / 3) % 540, 0, 60, 60); requestAnimationFrame(draw); };
    requestAnimationFrame(draw);
  </script>`,
  `<style>
    @keyframes slide { from { transform: translateX(0) } to { transform: translateX(400px) } }
    body { background: #fff; font: 28px monospace; height: 3000px }
    #box { position: absolute; top: 220px; left: 0; width: 80px; height: 80px; background: #08f; animation: slide 1.3s linear infinite }
    #waa { position: absolute; top: 220px; left: 500px; width: 80px; height: 20px; background: #0a0 }
  </style>`,
);

let pages: PageServer;
let stack: LocalStack;

beforeAll(async () => {
  pages = await servePages({
    '/restless': restless,
    // Green only if every clock the page can read says exactly 2030-01-01T00:00:00Z (and performance.now() 0).
    '/clock': html(`<script>
      const ok = Date.now() === 1893456000000 && new Date().getTime() === 1893456000000 && new Date(0).getTime() === 0 && performance.now() === 0 && Date() === new Date(1893456000000).toString();
      document.documentElement.style.background = ok ? '#0f0' : '#f00';
    </script>`),
    // Date.now() as pixels: six bytes, big-endian, as the red, green and blue of two 20 px blocks.
    '/stamp': html(`<canvas id="c" width="40" height="20" style="position:absolute;left:0;top:0"></canvas><script>
      const c = document.getElementById('c').getContext('2d');
      let t = Date.now();
      const bytes = [];
      for (let i = 0; i < 6; i++) { bytes.unshift(t % 256); t = Math.floor(t / 256); }
      c.fillStyle = 'rgb(' + bytes.slice(0, 3).join(',') + ')'; c.fillRect(0, 0, 20, 20);
      c.fillStyle = 'rgb(' + bytes.slice(3).join(',') + ')'; c.fillRect(20, 0, 20, 20);
    </script>`),
  });
  stack = await startTestStack({ allow: [pages.hostPort] });
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
});

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('deterministic', () => {
  it('gives pixel-identical images of a page with clocks, randomness and animations, and different ones without', async () => {
    const request = { url: `${pages.origin}/restless`, width: 640, height: 400, delay: 300 };
    const fixed = { ...request, deterministic: true, now: '2030-01-01T00:00:00Z' };
    const a = await shoot(stack.apiUrl, fixed);
    const b = await shoot(stack.apiUrl, { ...fixed, delay: 700 });
    expect(same(a.bytes, b.bytes), 'two deterministic captures differ').toBe(true);

    const c = await shoot(stack.apiUrl, request);
    const d = await shoot(stack.apiUrl, request);
    expect(same(c.bytes, d.bytes), 'two ordinary captures are identical: the page is not restless enough to test anything').toBe(false);
    expect(same(a.bytes, c.bytes)).toBe(false);
  });

  it('gives the same bytes from two worker processes (the worker and its browser started anew in between)', async () => {
    const request = { url: `${pages.origin}/restless`, width: 640, height: 400, deterministic: true, now: '2030-01-01T00:00:00Z' };
    const a = await shoot(stack.apiUrl, request);
    const startsBefore = stack.worker.starts;
    const pidBefore = stack.worker.pid;
    stack.worker.kill('SIGKILL');
    const b = await shoot(stack.apiUrl, request);
    // A new Node process with a new Chromium rendered it: nothing carried over but the request.
    expect(stack.worker.starts).toBe(startsBefore + 1);
    expect(stack.worker.pid).not.toBe(pidBefore);
    expect(same(a.bytes, b.bytes), 'two worker processes gave different deterministic captures').toBe(true);
  });

  it('freezes every clock the page can read at the given now', async () => {
    const shot = await shoot(stack.apiUrl, {
      url: `${pages.origin}/clock`,
      width: 320,
      height: 200,
      deterministic: true,
      now: '2030-01-01T00:00:00Z',
    });
    expect(decodePng(shot.bytes).at(10, 10)).toEqual([0, 255, 0]);
  });

  it("without now, the page's clock is the job's requestedAt (not the time it renders)", async () => {
    const shot = await shoot(stack.apiUrl, { url: `${pages.origin}/stamp`, width: 320, height: 200, deterministic: true, delay: 200 });
    const png = decodePng(shot.bytes);
    const bytes = [...png.at(10, 10), ...png.at(30, 10)];
    const seen = bytes.reduce((n, b) => n * 256 + b, 0);
    expect(new Date(seen).toISOString()).toBe(shot.status.requestedAt);
  });

  it('refuses now without deterministic, and a now that is not a date-time, naming the field', async () => {
    const alone = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/restless`, now: '2030-01-01T00:00:00Z' });
    expect(alone.res.status).toBe(400);
    expect(alone.json.error).toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/now sets the clock of a deterministic capture/),
    });
    const bad = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/restless`, deterministic: true, now: 'tomorrow' });
    expect(bad.res.status).toBe(400);
    expect(bad.json.error).toMatchObject({ message: expect.stringMatching(/now must be an ISO 8601 date-time/) });
  });
});
