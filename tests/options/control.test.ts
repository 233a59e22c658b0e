// The capture-control fields (identity, device, injection, interaction, clip, transparency, html,
// HTTP errors), each proved on the returned image or on what the pages' servers received, through
// the HTTP API of the local stack (real emulator, real worker, real Chromium behind the egress proxy).
// Several fields share one render where each can be checked on its own.
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { decodePng, imageSize, near } from '../support/images.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack } from '../support/stack.js';
import { shoot, shootFailing } from './shoot.js';

const GREEN: [number, number, number] = [0, 255, 0];
const BLUE: [number, number, number] = [0, 0, 255];
const WHITE: [number, number, number] = [255, 255, 255];

const LOGIN = { username: 'ann', password: 's3cret' };
const BASIC = `Basic ${Buffer.from(`${LOGIN.username}:${LOGIN.password}`).toString('base64')}`;

/** What a server received, per path (and per ?job= for the page's own reports). */
type Seen = Map<string, http.IncomingHttpHeaders[]>;
const record = (seen: Seen, req: http.IncomingMessage) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const key = url.pathname + (url.searchParams.has('job') ? `?job=${url.searchParams.get('job')}` : '');
  seen.set(key, [...(seen.get(key) ?? []), req.headers]);
};

let site: PageServer; // the page's own origin
let other: PageServer; // another origin, allow-listed: a third party the page loads from
let forbidden: PageServer; // a loopback server NOT allow-listed: the egress policy must keep it unreached
const siteSeen: Seen = new Map();
const otherSeen: Seen = new Map();
const reports = new Map<string, Record<string, unknown>>();
let stack: LocalStack;

// The page reports what its script sees through an <img> (so `load` waits for the report).
const IDENTITY_SCRIPT = `
  const job = new URLSearchParams(location.search).get('job');
  const seen = {
    ua: navigator.userAgent, lang: navigator.language, intl: new Intl.NumberFormat().resolvedOptions().locale,
    tz: Intl.DateTimeFormat().resolvedOptions().timeZone, offset: new Date(Date.UTC(2026, 0, 1)).getTimezoneOffset(),
    width: innerWidth, dpr: devicePixelRatio, touch: navigator.maxTouchPoints, cookie: document.cookie,
  };
  document.write('<img src="/report?job=' + job + '&seen=' + encodeURIComponent(JSON.stringify(seen)) + '" width="1" height="1">');`;

const CANVAS_STYLE = `<style>
  div, button { position: absolute; width: 100px; height: 100px; border: 0; padding: 0; }
  #styled { left: 0; top: 0; background: #f00; }
  #scripted { left: 120px; top: 0; background: #f00; }
  #btn { left: 240px; top: 0; background: #f00; }
  #late { left: 360px; top: 0; background: #f00; }
  #fade { left: 0; top: 300px; background: #f00; transition: background-color 30s linear; }
  #anim { left: 0; top: 200px; width: 50px; height: 50px; background: #0f0; animation: slide 5s linear forwards; }
  @keyframes slide { from { left: 0; } to { left: 500px; } }
</style>`;

beforeAll(async () => {
  forbidden = await servePages({});
  const otherRoute = (req: http.IncomingMessage, res: http.ServerResponse) => {
    record(otherSeen, req);
    if (req.url?.startsWith('/challenge')) res.writeHead(401, { 'www-authenticate': 'Basic realm="third party"' }).end('no');
    else res.writeHead(404).end();
  };
  other = await servePages({ '/tp.png': otherRoute, '/tp2.png': otherRoute, '/challenge': otherRoute });
  const thirdParty = (host: string, path: string) => `http://${host}:${other.port}${path}`;

  site = await servePages({
    // Behind HTTP Basic: only a login shows the page. It loads three third-party things.
    '/identity': (req, res) => {
      record(siteSeen, req);
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="site"', 'content-type': 'text/html' }).end(html('<p>login required</p>'));
        return;
      }
      const job = new URL(req.url ?? '/', 'http://x').searchParams.get('job');
      res.writeHead(200, { 'content-type': 'text/html' }).end(
        html(
          `<meta name="viewport" content="width=device-width"><div style="width:100%;height:100vh;background:#0f0"></div>
           <img src="${thirdParty('localhost', `/tp.png?job=${job}`)}" width="1" height="1">
           <img src="${thirdParty('127.0.0.1', `/tp2.png?job=${job}`)}" width="1" height="1">
           <iframe src="${thirdParty('localhost', `/challenge?job=${job}`)}" width="10" height="10"></iframe>
           <script>${IDENTITY_SCRIPT}</script>`,
        ),
      );
    },
    '/report': (req, res) => {
      record(siteSeen, req);
      const url = new URL(req.url ?? '/', 'http://x');
      reports.set(url.searchParams.get('job') ?? '', JSON.parse(url.searchParams.get('seen') ?? '{}') as Record<string, unknown>);
      res.writeHead(204).end();
    },
    // No background of its own: transparent where nothing is painted when omitBackground is set.
    '/canvas': `<!doctype html><html><head>${CANVAS_STYLE}</head><body style="margin:0">
      <div id="styled"></div><div id="scripted"></div><div id="late"></div>
      <button id="btn" onclick="this.style.background = '#0f0'"></button>
      <div id="fade"></div><div id="anim"></div>
      <script>addEventListener('load', () => { document.getElementById('fade').style.background = '#00f'; })</script></body></html>`,
    // Four boxes of four colours, so a clip that ignores x, y or both lands on another colour.
    '/clip': html(
      ['0,0,#f00', '240,0,#0f0', '0,60,#ff0', '240,60,#00f']
        .map((b) => b.split(','))
        .map(([x, y, c]) => `<div style="position:absolute;left:${x}px;top:${y}px;width:100px;height:50px;background:${c}"></div>`)
        .join(''),
    ),
    // Bands every 500 px: where the capture starts says how far the page was scrolled.
    '/long': html(
      `${['#f00', '#ff0', '#0f0', '#0ff', '#f0f', '#800'].map((c) => `<div style="height:500px;background:${c}"></div>`).join('')}` +
        '<div id="target" style="height:200px;background:#00f"></div><div style="height:2000px;background:#000"></div>',
    ),
    '/sub.png': (_req, res) => res.writeHead(404).end(),
  });
  stack = await startTestStack({ allow: [site.hostPort, other.hostPort, `localhost:${other.port}`], workerConcurrency: 2 });
});

afterAll(async () => {
  await stack?.stop();
  await Promise.all([site?.close(), other?.close(), forbidden?.close()]);
});

const page = (path: string) => `${site.origin}${path}`;

describe('every new field answers 400 naming it for an invalid value (through the API)', () => {
  it.each(
    (
      [
        [{ headers: { Host: 'evil.example' } }, /headers: "Host" cannot be set/],
        [
          { cookies: [{ name: 'a', value: 'b', domain: 'other.example' }] },
          /cookies\[\]\.domain "other\.example" does not cover the page's host/,
        ],
        [{ userAgent: 'x'.repeat(513) }, /userAgent must be at most 512 characters/],
        [{ authentication: { username: 'a' } }, /authentication\.password must be a string/],
        [{ device: 'Nokia 3310' }, /device must be a device name from GET \/devices/],
        [{ timezone: 'Mars/Olympus' }, /timezone must be an IANA time zone name/],
        [{ locale: '!!' }, /locale must be a BCP 47 language tag/],
        [{ clip: { x: 0, y: 0, width: 0, height: 10 } }, /clip\.width must be at least 1/],
        [{ omitBackground: true, format: 'jpeg' }, /omitBackground needs a format with transparency/],
        [{ styles: ['x'.repeat(65 * 1024)] }, /styles must be at most 64 KB in all/],
        [{ scripts: 'alert(1)' }, /scripts must be an array of JavaScript strings/],
        [{ click: '' }, /click must not be empty/],
        [{ scrollTo: 7 }, /scrollTo must be a CSS selector string/],
        [{ disableAnimations: 'yes' }, /disableAnimations must be true or false/],
        [{ failOnHttpError: 'yes' }, /failOnHttpError must be true or false/],
        [{ blockAds: 'yes' }, /blockAds must be true or false/],
        [{ blockTrackers: 1 }, /blockTrackers must be true or false/],
        [{ blockCookieBanners: null }, /blockCookieBanners must be true or false/],
        [{ html: '<p>x</p>' }, /send exactly one of url and html/],
      ] as const satisfies [object, RegExp][]
    ).map(([fields, message]) => [message.source, fields, message] as const),
  )('%s', async (_, fields, message) => {
    const { res, json } = await postScreenshot(stack.apiUrl, { url: page('/canvas'), ...fields });
    expect(res.status).toBe(400);
    expect((json as { error: { message: string } }).error.message).toMatch(message);
  });
});

describe('GET /devices', () => {
  it("lists puppeteer's devices with what each sets", async () => {
    const res = await fetch(`${stack.apiUrl}/devices`);
    expect(res.status).toBe(200);
    const { devices } = (await res.json()) as {
      devices: Array<{ name: string; width: number; deviceScaleFactor: number; isMobile: boolean }>;
    };
    expect(devices.length).toBeGreaterThan(100);
    expect(devices.find((d) => d.name === 'iPhone 15')).toMatchObject({ width: 393, deviceScaleFactor: 3, isMobile: true });
    expect(devices.map((d) => d.name)).toEqual(expect.arrayContaining(['Pixel 5', 'iPad Pro landscape']));
  });
});

describe('capture-control fields, proved on the image or on what the servers received', () => {
  const shots = new Map<string, ReturnType<typeof shoot>>();
  const job = (name: string, body?: Record<string, unknown>) => {
    if (!shots.has(name)) shots.set(name, shoot(stack.apiUrl, body!));
    return shots.get(name)!;
  };
  beforeAll(() => {
    job('identity', {
      url: page('/identity?job=identity'),
      device: 'iPhone 15',
      headers: { 'X-Team': 'docs' },
      cookies: [{ name: 'session', value: 'abc123' }],
      authentication: LOGIN,
      locale: 'de-DE',
      timezone: 'Asia/Tokyo',
    });
    job('explicit', {
      url: page('/identity?job=explicit'),
      device: 'iPhone 15',
      width: 500,
      userAgent: 'url2png-test/1.0',
      authentication: LOGIN,
    });
    job('controlled', {
      url: page('/canvas'),
      width: 640,
      height: 480,
      omitBackground: true,
      styles: ['#styled { background: #00f; }'],
      scripts: [
        "document.getElementById('scripted').style.background = '#0f0'",
        "new Promise((done) => setTimeout(() => { document.getElementById('late').style.background = '#00f'; done(); }, 300))",
      ],
      click: '#btn',
      disableAnimations: true,
    });
    job('plain', { url: page('/canvas'), width: 640, height: 480 });
    job('clip', { url: page('/clip'), clip: { x: 240, y: 60, width: 100, height: 50 } });
    job('scrollTo', { url: page('/long'), width: 400, height: 300, scrollTo: '#target', failOnHttpError: true });
  });

  it('device: the viewport at the device scale (iPhone 15: 393x659 at 3x = 1179x1977), its user agent and touch, seen by the page', async () => {
    expect(imageSize((await job('identity')).bytes)).toEqual({ width: 1179, height: 1977 });
    expect(reports.get('identity')).toMatchObject({
      width: 393,
      dpr: 3,
      ua: expect.stringContaining('iPhone OS 17'),
      touch: expect.any(Number),
    });
    expect(reports.get('identity')!.touch).toBeGreaterThan(0);
  });

  it("authentication: the login answered the page origin's challenge, so the page itself (green) was captured", async () => {
    const png = decodePng((await job('identity')).bytes);
    expect(near(png.at(600, 1500), GREEN)).toBe(true);
    expect(siteSeen.get('/identity?job=identity')!.some((h) => h.authorization === BASIC)).toBe(true);
  });

  it('headers and cookies: arrived at the page origin with every request, and at no third party', async () => {
    await job('identity');
    const own = [...siteSeen.get('/identity?job=identity')!, ...siteSeen.get('/report?job=identity')!];
    for (const headers of own) expect(headers['x-team']).toBe('docs');
    expect(siteSeen.get('/report?job=identity')!.every((h) => h.cookie === 'session=abc123')).toBe(true);
    expect(reports.get('identity')!.cookie).toBe('session=abc123');
    // Another host: neither the header nor the cookie; the same host on another port (another
    // origin, same cookie scope): not the header.
    expect(otherSeen.get('/tp.png?job=identity')).toHaveLength(1);
    expect(otherSeen.get('/tp.png?job=identity')![0]!['x-team']).toBeUndefined();
    expect(otherSeen.get('/tp.png?job=identity')![0]!.cookie).toBeUndefined();
    expect(otherSeen.get('/tp2.png?job=identity')![0]!['x-team']).toBeUndefined();
  });

  it("authentication: a third party's challenge never gets the credentials", async () => {
    await job('identity');
    expect(otherSeen.get('/challenge?job=identity')?.length).toBeGreaterThan(0);
    for (const headers of otherSeen.get('/challenge?job=identity')!) expect(headers.authorization).toBeUndefined();
  });

  it('locale and timezone: Accept-Language, navigator.language, Intl and the clock', async () => {
    await job('identity');
    for (const headers of siteSeen.get('/identity?job=identity')!) expect(headers['accept-language']).toMatch(/^de-DE/);
    expect(reports.get('identity')).toMatchObject({ lang: 'de-DE', intl: 'de-DE', tz: 'Asia/Tokyo', offset: -540 });
  });

  it('userAgent and width win over the device; the header and navigator.userAgent carry it', async () => {
    expect(imageSize((await job('explicit')).bytes)).toEqual({ width: 1500, height: 1977 });
    expect(reports.get('explicit')).toMatchObject({ ua: 'url2png-test/1.0', width: 500 });
    for (const headers of siteSeen.get('/identity?job=explicit')!) expect(headers['user-agent']).toBe('url2png-test/1.0');
  });

  it('a job started after one with cookies and headers sees none of them: every job is its own browser context', async () => {
    // In this order for sure: the job with cookie and header is done before the next one starts
    // (the jobs above may render at the same time, or the other way round).
    await job('identity');
    await job('after-identity', { url: page('/identity?job=after-identity'), authentication: LOGIN });
    expect(siteSeen.get('/report?job=after-identity')).toHaveLength(1);
    expect(siteSeen.get('/report?job=after-identity')![0]!.cookie).toBeUndefined();
    expect(siteSeen.get('/report?job=after-identity')![0]!['x-team']).toBeUndefined();
    expect(reports.get('after-identity')!.cookie).toBe('');
  });

  it('styles, scripts (a promise awaited), click, disableAnimations and omitBackground, each on its own spot of one image', async () => {
    const [controlled, plain] = await Promise.all([job('controlled'), job('plain')]);
    const on = decodePng(controlled.bytes);
    const off = decodePng(plain.bytes);
    const spots = {
      styles: [50, 50, BLUE],
      scripts: [170, 50, GREEN],
      'awaited script': [410, 50, BLUE],
      click: [290, 50, GREEN],
      'transition off': [50, 350, BLUE],
      'animation finished': [525, 225, GREEN],
    } as const;
    for (const [name, [x, y, colour]] of Object.entries(spots)) {
      expect(near(on.at(x, y), colour), `${name} with the fields`).toBe(true);
      expect(near(off.at(x, y), colour), `${name} without them`).toBe(false);
    }
    // Where the page paints nothing: transparent with omitBackground, opaque white without.
    expect(on.alpha(600, 450)).toBe(0);
    expect(off.alpha(600, 450)).toBe(255);
    expect(near(off.at(600, 450), WHITE)).toBe(true);
  });

  it('clip: exactly the rectangle asked for (the blue box at 240,60, 100x50; the other boxes are other colours)', async () => {
    const png = decodePng((await job('clip')).bytes);
    expect({ width: png.width, height: png.height }).toEqual({ width: 100, height: 50 });
    // Blue: the box at (240, 60). Ignoring x would give yellow, ignoring y green, both red.
    for (const [x, y] of [
      [0, 0],
      [99, 49],
      [50, 25],
    ] as const)
      expect(near(png.at(x, y), BLUE)).toBe(true);
  });

  it('scrollTo: the 200 px element 3000 px down is at the top of the capture (failOnHttpError passes a 200 page)', async () => {
    const png = decodePng((await job('scrollTo')).bytes);
    // The target's 200 px exactly at the top, then the black below it: a scroll that stops short
    // shows a band's colour at the top, one that overshoots shows black there.
    expect(near(png.at(200, 2), BLUE)).toBe(true);
    expect(near(png.at(200, 195), BLUE)).toBe(true);
    expect(near(png.at(200, 210), [0, 0, 0])).toBe(true);
    expect(near(png.at(200, 290), [0, 0, 0])).toBe(true);
  });
});

describe('failures: failOnHttpError, scripts', () => {
  it('failOnHttpError: a 404 page fails the job http_error (final) with the status; without it the error page is captured', async () => {
    const [failed, captured] = await Promise.all([
      shootFailing(stack.apiUrl, { url: page('/missing'), failOnHttpError: true }),
      shoot(stack.apiUrl, { url: page('/missing'), width: 320, height: 200 }),
    ]);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'http_error', message: expect.stringContaining('HTTP 404') });
    expect(captured.status.status).toBe('done');
  });

  it('scripts: an exception fails the job script_error with its message', async () => {
    const failed = await shootFailing(stack.apiUrl, {
      url: page('/canvas'),
      width: 320,
      height: 200,
      scripts: ['1 + 1', "throw new Error('no such widget')"],
    });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'script_error', message: expect.stringMatching(/scripts\[1\] threw: .*no such widget/) });
  });

  it('click: a selector that matches nothing fails selector_not_found', async () => {
    const failed = await shootFailing(stack.apiUrl, { url: page('/canvas'), width: 320, height: 200, click: '#nothing' });
    expect(failed.error).toMatchObject({ code: 'selector_not_found', message: expect.stringContaining('click "#nothing"') });
  });
});

describe('html input', () => {
  it('renders a 300 KB document (larger than a queue message allows); its sub-resources still pass the egress policy', async () => {
    const document = html(
      `<div style="width:100%;height:100vh;background:#00f"></div>
       <img src="${site.origin}/sub.png?from=html" width="1" height="1">
       <img src="${forbidden.origin}/secret.png" width="1" height="1">
       <iframe src="file:///etc/passwd" width="10" height="10"></iframe>
       <!-- ${'p'.repeat(300 * 1024)} -->`,
    );
    const shot = await shoot(stack.apiUrl, { html: document, width: 320, height: 200 });
    expect(shot.status.status).toBe('done');
    expect(near(decodePng(shot.bytes).at(160, 100), BLUE)).toBe(true);
    expect(site.hits.get('/sub.png')).toBeGreaterThan(0); // an allowed origin is fetched
    expect(forbidden.hits.size).toBe(0); // a refused address is not, even from an html document
  });
});
