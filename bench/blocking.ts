import { blockingEngines } from '../lib/capture/blocking.js';
import { renderScreenshot } from '../lib/capture/render.js';
import type { ScreenshotOptionsInput } from '../lib/contract/request.js';
import { html, type PageHandler, servePages } from '../fixtures/pages.js';
import { startRenderHarness } from '../fixtures/render-harness.js';

/** Real ad and tracker endpoints, as a news page loads them (each also fetches a creative or pixel). */
const AD_HOSTS = [
  'pagead2.googlesyndication.com',
  'securepubads.g.doubleclick.net',
  'c.amazon-adsystem.com',
  'ib.adnxs.com',
  'cdn.taboola.com',
  'widgets.outbrain.com',
];
const TRACKER_HOSTS = ['www.google-analytics.com', 'connect.facebook.net', 'static.hotjar.com', 'bat.bing.com', 'px.ads.linkedin.com'];
const TRACKER_PATHS = [
  '/g/collect?v=2&tid=G-1',
  '/en_US/fbevents.js',
  '/c/hotjar-1.js?sv=6',
  '/action/0?ti=1&Ver=2',
  '/collect/?pid=1&fmt=gif',
];

const RUNS = Number(process.env.BENCH_BLOCKING_RUNS ?? 7);
/** Each fixture response waits this long (ms), spread so requests do not line up. */
const latencyFor = (path: string) => 100 + (Buffer.from(path).reduce((a, b) => a + b, 0) % 201);

export interface BlockingBench {
  runs: number;
  adHeavy: { off: JobFigures; on: JobFigures };
  noAds: { off: JobFigures; adsAndTrackers: JobFigures; allThree: JobFigures };
  /** Parsing the lists, once per process on the first job that blocks. */
  engineLoad: { ms: number; heapMb: number };
}

interface JobFigures {
  /** Median over the runs, render start to image. */
  medianMs: number;
  /** Median bytes the fixture server sent for one job, and its requests. */
  kb: number;
  requests: number;
}

export async function blockingBench(executablePath: string, log: (line: string) => void): Promise<BlockingBench> {
  const creative = Buffer.alloc(60 * 1024, 7); // an ad image's size
  const script = 'void 0;'.padEnd(40 * 1024, ' '); // a tag library's size
  let sent = 0;
  let requests = 0;
  const delayed =
    (type: string, body: Buffer | string): PageHandler =>
    (req, res) => {
      setTimeout(
        () => {
          requests++;
          sent += Buffer.byteLength(body);
          res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
        },
        latencyFor(req.url ?? ''),
      );
    };
  const routes: Record<string, string | PageHandler> = {};
  const pages = await servePages(routes);
  const at = (host: string, path: string) => `http://${host}:${pages.port}${path}`;
  const own = Array.from({ length: 4 }, (_, i) => `<img src="/photo${i}.jpg" width="300" height="200">`).join('');
  for (let i = 0; i < 4; i++) routes[`/photo${i}.jpg`] = delayed('image/jpeg', Buffer.alloc(40 * 1024, 3));
  AD_HOSTS.forEach((host, i) => {
    // Each ad tag loads its library, which then fetches a creative and fills its slot.
    routes[`/ad${i}/tag.js`] = delayed(
      'text/javascript',
      `${script}\n(() => { const i = new Image(300, 250); i.src = '${at(host, `/ad${i}/creative.png`)}'; document.getElementById('slot${i}').append(i); })();`,
    );
    routes[`/ad${i}/creative.png`] = delayed('image/png', creative);
  });
  TRACKER_PATHS.forEach((path) => {
    routes[new URL(path, 'http://x').pathname] = delayed(path.endsWith('.js') ? 'text/javascript' : 'image/gif', script.slice(0, 8 * 1024));
  });
  const heavy =
    own +
    AD_HOSTS.map(
      (host, i) =>
        `<div id="slot${i}" class="ad-slot" style="width:300px;height:250px;background:#eee"></div><script async src="${at(host, `/ad${i}/tag.js`)}"></script>`,
    ).join('') +
    TRACKER_HOSTS.map((host, i) => `<img src="${at(host, TRACKER_PATHS[i]!)}" width="1" height="1" alt="">`).join('');
  routes['/ad-heavy'] = html(`<h1>News</h1>${heavy}`);
  routes['/no-ads'] = html(`<h1>News</h1>${own}`);

  const names = [...AD_HOSTS, ...TRACKER_HOSTS];
  const { guard, proxy, host, close } = await startRenderHarness(
    [pages.hostPort, ...names.map((h) => `${h}:${pages.port}`)],
    'bench-blocking',
    async (name) => (names.includes(name) ? ['127.0.0.1'] : []),
    executablePath,
  );
  const job = async (path: string, options: ScreenshotOptionsInput) => {
    const [sentBefore, requestsBefore] = [sent, requests];
    const t = performance.now();
    await renderScreenshot(
      { url: `${pages.origin}${path}`, options },
      { browsers: host, guard, proxy },
      { timeoutMs: 30_000, loadTimeoutMs: 15_000 },
    );
    return { ms: performance.now() - t, bytes: sent - sentBefore, requests: requests - requestsBefore };
  };
  try {
    // The lists are parsed on the first blocking job of a process: measured on their own here.
    const engines = await blockingEngines();
    const engineLoad = { ms: engines.loadMs, heapMb: engines.heapMb };
    const variants: Array<[string, string, ScreenshotOptionsInput]> = [
      ['adHeavy.off', '/ad-heavy', {}],
      ['adHeavy.on', '/ad-heavy', { blockAds: true, blockTrackers: true }],
      ['noAds.off', '/no-ads', {}],
      ['noAds.adsAndTrackers', '/no-ads', { blockAds: true, blockTrackers: true }],
      ['noAds.allThree', '/no-ads', { blockAds: true, blockTrackers: true, blockCookieBanners: true }],
    ];
    for (const [, path, options] of variants) await job(path, options); // warm-up
    const samples = new Map<string, Array<{ ms: number; bytes: number; requests: number }>>();
    // Interleaved, so a machine that slows down mid-run slows every variant alike.
    for (let run = 0; run < RUNS; run++) {
      log(`blocking: run ${run + 1} of ${RUNS}...`);
      for (const [name, path, options] of variants) samples.set(name, [...(samples.get(name) ?? []), await job(path, options)]);
    }
    const figures = (name: string): JobFigures => {
      const s = samples.get(name)!;
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      return {
        medianMs: Math.round(median(s.map((x) => x.ms))),
        kb: Math.round(median(s.map((x) => x.bytes)) / 1024),
        requests: median(s.map((x) => x.requests)),
      };
    };
    return {
      runs: RUNS,
      adHeavy: { off: figures('adHeavy.off'), on: figures('adHeavy.on') },
      noAds: { off: figures('noAds.off'), adsAndTrackers: figures('noAds.adsAndTrackers'), allThree: figures('noAds.allThree') },
      engineLoad,
    };
  } finally {
    await close();
    await pages.close();
  }
}

/** The row's lines for the printed table. */
export function blockingRows(b: BlockingBench): Array<[string, string]> {
  const fig = (f: JobFigures) => `${f.medianMs} ms, ${f.kb} KiB, ${f.requests} requests`;
  return [
    [`ad-heavy page (6 ads, 5 trackers, 100-300 ms each), median of ${b.runs}: blocking off`, fig(b.adHeavy.off)],
    ['  blockAds + blockTrackers', fig(b.adHeavy.on)],
    ['page without ads: blocking off', fig(b.noAds.off)],
    ['  blockAds + blockTrackers | + blockCookieBanners', `${b.noAds.adsAndTrackers.medianMs} | ${b.noAds.allThree.medianMs} ms`],
    ['  parsing the lists (first blocking job of a process)', `${b.engineLoad.ms} ms, ${b.engineLoad.heapMb} MB heap`],
  ];
}
