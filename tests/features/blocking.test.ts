import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRenderHarness, type RenderHarness } from '../../fixtures/render-harness.js';
import { renderScreenshot } from '../../lib/capture/render.js';
import type { ScreenshotOptionsInput } from '../../lib/contract/request.js';
import { decodePng, near, type Pixels } from '../support/images.js';
import { html, type PageHandler, servePages, type PageServer } from '../../fixtures/pages.js';

/** The real names the fixtures load from; the test's resolver sends each to 127.0.0.1. */
const HOSTS = [
  'pagead2.googlesyndication.com',
  'securepubads.g.doubleclick.net',
  'www.google-analytics.com',
  'www.facebook.com',
  'cdn.cookielaw.org',
  'consent.cookiebot.com',
  'cmp.inmobi.com',
] as const;

const AD: [number, number, number] = [255, 0, 255];
const BANNER: [number, number, number] = [0, 0, 255];
const CONTENT: [number, number, number] = [0, 160, 0];
/** The grey an empty ad slot shows while its ad loads (as real sites style them). */
const PLACEHOLDER: [number, number, number] = [200, 200, 200];

let pages: PageServer;
let harness: RenderHarness;
/** What each consent manager fixture told the server the visitor chose. */
const choices: string[] = [];

const js =
  (body: string): PageHandler =>
  (_req, res) =>
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(body);
const pixel: PageHandler = (_req, res) =>
  res.writeHead(200, { 'content-type': 'image/gif' }).end(Buffer.from('R0lGODlhAQABAAAAACw=', 'base64'));
/** The page's own content: a green band 100 px tall at the top, then white. */
const content = '<div id="content" style="height:100px;background:rgb(0,160,0)">Today\'s news</div>';
const at = (name: (typeof HOSTS)[number], path: string) => `http://${name}:${pages.port}${path}`;

/** Sends the visitor's choice to the server, as a consent manager records it. */
const record = (cmp: string, choice: string) => `fetch('/consent?cmp=${cmp}&choice=${choice}')`;
const banner = (id: string, buttons: string) =>
  `<div id="${id}" style="position:fixed;left:0;right:0;bottom:0;height:180px;background:rgb(0,0,255);color:#fff;z-index:9">We value your privacy ${buttons}</div>`;

beforeAll(async () => {
  const routes: Record<string, string | PageHandler> = {
    '/consent': (req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      choices.push(`${q.get('cmp')}:${q.get('choice')}`);
      res.writeHead(204).end();
    },
    '/site.css': (_req, res) => res.writeHead(200, { 'content-type': 'text/css' }).end('#content { font: 20px sans-serif }'),
    // AdSense: the loader fills every ins.adsbygoogle with a creative.
    '/pagead/js/adsbygoogle.js': js(
      `for (const ins of document.querySelectorAll('ins.adsbygoogle')) { ins.style.background = 'rgb(255,0,255)'; ins.textContent = 'Ad'; }`,
    ),
    // Google Publisher Tag: fills the div-gpt-ad-* container and reports an impression.
    '/tag/js/gpt.js': js(
      `const slot = document.querySelector('[id^="div-gpt-ad"]'); slot.style.background = 'rgb(255,0,255)'; slot.setAttribute('data-google-query-id', 'q1');`,
    ),
    '/collect': pixel,
    '/tr': pixel,
    // OneTrust: the stub script from cdn.cookielaw.org builds the banner a moment after load.
    '/scripttemplates/otSDKStub.js': js(`
      window.OnetrustActiveGroups = ',C0001,C0002,C0004,';
      setTimeout(() => {
        document.body.insertAdjacentHTML('beforeend', '<div id="onetrust-consent-sdk">${banner(
          'onetrust-banner-sdk',
          '<button id="onetrust-accept-btn-handler">Accept All</button><button id="onetrust-reject-all-handler">Reject All</button>',
        ).replaceAll("'", "\\'")}</div>');
        document.getElementById('onetrust-reject-all-handler').onclick = () => {
          window.OnetrustActiveGroups = ',C0001,';
          document.getElementById('onetrust-banner-sdk').style.display = 'none';
          ${record('onetrust', 'reject')};
        };
        document.getElementById('onetrust-accept-btn-handler').onclick = () => ${record('onetrust', 'accept')};
      }, 200);`),
    // Cookiebot: uc.js defines window.Cookiebot and shows its dialog.
    '/uc.js': js(`
      document.body.insertAdjacentHTML('beforeend', '${banner(
        'CybotCookiebotDialog',
        '<button id="CybotCookiebotDialogBodyLevelButtonLevelOptinDeclineAll">Use necessary cookies only</button><button id="CybotCookiebotDialogBodyLevelButtonAccept">Allow all</button>',
      ).replaceAll("'", "\\'")}');
      const dialog = document.getElementById('CybotCookiebotDialog');
      window.Cookiebot = {
        hasResponse: false, declined: false, dialog: { visible: true },
        hide() { dialog.style.display = 'none'; this.dialog.visible = false; },
        withdraw() { this.declined = true; this.hasResponse = true; ${record('cookiebot', 'reject')}; },
      };
      document.getElementById('CybotCookiebotDialogBodyLevelButtonLevelOptinDeclineAll').onclick = () => {
        window.Cookiebot.declined = true; window.Cookiebot.hasResponse = true; window.Cookiebot.hide();
        ${record('cookiebot', 'reject')};
      };`),
    // Quantcast Choice (InMobi): the CMP's container with its UI and a "disagree" button.
    '/choice/cmp2.js': js(`
      document.body.insertAdjacentHTML('beforeend', '<div id="qc-cmp2-container"><div id="qc-cmp2-ui" style="position:fixed;left:0;right:0;bottom:0;height:180px;background:rgb(0,0,255);z-index:9"><button id="disagree-btn">DISAGREE</button><button mode="primary">AGREE</button></div></div>');
      document.getElementById('disagree-btn').onclick = () => {
        document.getElementById('qc-cmp2-container').style.display = 'none';
        ${record('quantcast', 'reject')};
      };`),
  };
  pages = await servePages(routes);
  const page = (body: string, head = '') => html(content + body, `<link rel="stylesheet" href="/site.css">${head}`);
  Object.assign(routes, {
    '/news': page(
      `<ins class="adsbygoogle" style="display:block;width:300px;height:250px;margin:10px 0;background:rgb(200,200,200)" data-ad-client="ca-pub-1" data-ad-slot="1"></ins>
       <div id="div-gpt-ad-1700000000000-0" style="width:728px;height:90px;background:rgb(200,200,200)"></div>
       <img src="${at('www.google-analytics.com', '/collect?v=1&t=pageview&tid=UA-1-1')}" width="1" height="1" alt="">
       <img src="${at('www.facebook.com', '/tr?id=1&ev=PageView&noscript=1')}" width="1" height="1" alt="">
       <script async src="${at('pagead2.googlesyndication.com', '/pagead/js/adsbygoogle.js?client=ca-pub-1')}"></script>
       <script async src="${at('securepubads.g.doubleclick.net', '/tag/js/gpt.js')}"></script>`,
    ),
    '/onetrust': page('', `<script src="${at('cdn.cookielaw.org', '/scripttemplates/otSDKStub.js')}" async></script>`),
    '/cookiebot': page(`<script src="${at('consent.cookiebot.com', '/uc.js')}"></script>`),
    // A consent manager's banner with nothing to click: the list's cosmetic rules hide it.
    '/tealium': page(
      '<div id="__tealiumGDPRecModal" style="position:fixed;left:0;right:0;bottom:0;height:180px;background:rgb(0,0,255)">This site uses cookies.</div>',
    ),
    '/quantcast': page(`<script src="${at('cmp.inmobi.com', '/choice/cmp2.js')}"></script>`),
  });
  const resolver = async (name: string) => ((HOSTS as readonly string[]).includes(name) ? ['127.0.0.1'] : []);
  harness = await startRenderHarness([pages.hostPort, ...HOSTS.map((h) => `${h}:${pages.port}`)], 'blocking', resolver);
});

afterAll(async () => {
  await harness?.close();
  await pages?.close();
});

const render = async (path: string, options: ScreenshotOptionsInput, document?: string) => {
  const image = await renderScreenshot(
    { url: `${pages.origin}${path}`, html: document, options: { width: 800, height: 600, ...options } },
    { browsers: harness.host, guard: harness.guard, proxy: harness.proxy },
    { timeoutMs: 20_000, loadTimeoutMs: 8_000 },
  );
  return decodePng(image.bytes);
};

/** Whether any pixel (on an 8 px grid) has this colour. */
const shows = (img: Pixels, colour: [number, number, number]) => {
  for (let y = 0; y < img.height; y += 8) for (let x = 0; x < img.width; x += 8) if (near(img.at(x, y), colour)) return true;
  return false;
};

/** Requests the server got for these paths since `before` (a copy of the hits). */
const requested = (before: Map<string, number>, ...paths: string[]) => paths.filter((p) => (pages.hits.get(p) ?? 0) > (before.get(p) ?? 0));

const AD_PATHS = ['/pagead/js/adsbygoogle.js', '/tag/js/gpt.js'];
const TRACKER_PATHS = ['/collect', '/tr'];

describe('blockAds and blockTrackers', () => {
  it('off (the default): the ad scripts and tracker pixels are requested and the filled ad boxes are in the image', async () => {
    const before = new Map(pages.hits);
    const img = await render('/news', {});
    expect(requested(before, ...AD_PATHS, ...TRACKER_PATHS)).toEqual([...AD_PATHS, ...TRACKER_PATHS]);
    expect(near(img.at(100, 50), CONTENT)).toBe(true);
    // The AdSense box (300 x 250 below the content) and the GPT slot are filled.
    expect(near(img.at(150, 200), AD)).toBe(true);
    expect(near(img.at(400, 400), AD)).toBe(true);
  });

  it('on: no request reaches the ad or tracker hosts, no ad box is in the image, the page itself is whole', async () => {
    const before = new Map(pages.hits);
    const img = await render('/news', { blockAds: true, blockTrackers: true });
    expect(requested(before, ...AD_PATHS, ...TRACKER_PATHS)).toEqual([]);
    expect(requested(before, '/news', '/site.css')).toEqual(['/news', '/site.css']);
    expect(shows(img, AD)).toBe(false);
    // The slots are hidden, not left as empty (grey placeholder) boxes.
    expect(shows(img, PLACEHOLDER)).toBe(false);
    expect(near(img.at(100, 50), CONTENT)).toBe(true);
  });

  it('blockAds alone stops the ad scripts and hides the slots, not the analytics pixel', async () => {
    const before = new Map(pages.hits);
    const img = await render('/news', { blockAds: true });
    expect(requested(before, ...AD_PATHS)).toEqual([]);
    expect(shows(img, AD)).toBe(false);
    expect(shows(img, PLACEHOLDER)).toBe(false);
    expect(near(img.at(100, 50), CONTENT)).toBe(true);
    // Google Analytics is a tracker, not an ad network: only blockTrackers stops it.
    expect(requested(before, '/collect')).toEqual(['/collect']);
  });

  it('blockTrackers alone stops the analytics and ad-network pixels, not the ad scripts', async () => {
    const before = new Map(pages.hits);
    await render('/news', { blockTrackers: true });
    expect(requested(before, ...TRACKER_PATHS)).toEqual([]);
    expect(requested(before, ...AD_PATHS)).toEqual(AD_PATHS);
  });
});

describe('blockCookieBanners', () => {
  it('off (the default): the OneTrust banner is in the image and nothing was chosen', async () => {
    choices.length = 0;
    const img = await render('/onetrust', { delay: 500 });
    expect(near(img.at(400, 550), BANNER)).toBe(true);
    expect(choices).toEqual([]);
  });

  it.each([
    ['OneTrust', '/onetrust', 'onetrust:reject'],
    ['Cookiebot', '/cookiebot', 'cookiebot:reject'],
    ['Quantcast Choice', '/quantcast', 'quantcast:reject'],
  ])('on: %s is answered "reject" and its banner is gone from the image', async (_name, path, choice) => {
    choices.length = 0;
    const img = await render(path, { blockCookieBanners: true });
    expect(shows(img, BANNER)).toBe(false);
    expect(near(img.at(100, 50), CONTENT)).toBe(true);
    expect(choices).toContain(choice);
    expect(choices.filter((c) => c.endsWith(':accept'))).toEqual([]);
  });

  it('an html document: its ad requests are blocked and its OneTrust banner is answered "reject" too', async () => {
    choices.length = 0;
    const before = new Map(pages.hits);
    // The base URL lets the consent manager's relative fetch reach the fixture server.
    const document = html(
      `${content}<ins class="adsbygoogle" style="display:block;width:300px;height:250px;background:rgb(200,200,200)"></ins>
       <script async src="${at('pagead2.googlesyndication.com', '/pagead/js/adsbygoogle.js')}"></script>
       <script async src="${at('cdn.cookielaw.org', '/scripttemplates/otSDKStub.js')}"></script>`,
      `<base href="${pages.origin}/">`,
    );
    const img = await render('/', { blockAds: true, blockCookieBanners: true }, document);
    expect(requested(before, '/pagead/js/adsbygoogle.js')).toEqual([]);
    expect(shows(img, PLACEHOLDER)).toBe(false);
    expect(shows(img, BANNER)).toBe(false);
    expect(near(img.at(100, 50), CONTENT)).toBe(true);
    expect(choices).toContain('onetrust:reject');
  });

  it("on: a banner with nothing to answer (Tealium) is hidden by the consent managers' cosmetic rules", async () => {
    const img = await render('/tealium', { blockCookieBanners: true });
    expect(shows(img, BANNER)).toBe(false);
    expect(near(img.at(100, 50), CONTENT)).toBe(true);
  });
});
