// What the egress proxy costs one render: the same page, the same Chromium flags, with and without
// --proxy-server, interleaved in one run so that both see the same machine load.
//   npx tsx bench/proxy-cost.ts [rounds]
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import puppeteer, { type Browser } from 'puppeteer-core';
import { chromiumArgs, resolveExecutable } from '../lib/capture/browser.js';
import { EgressGuard, startEgressProxy } from '../lib/egress/egress.js';
import { EgressAllowList } from '../lib/egress/url-policy.js';

const rounds = Number(process.argv[2] ?? 30);

// A small page with a stylesheet and six images: seven subresources through the proxy per render.
const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const server = http.createServer((req, res) => {
  if (req.url === '/') {
    const imgs = Array.from({ length: 6 }, (_, i) => `<img src="/i${i}.png?${Date.now()}" width="40" height="40">`).join('');
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end(`<!doctype html><link rel="stylesheet" href="/s.css"><h1>proxy cost</h1>${imgs}`);
  } else if (req.url === '/s.css') res.writeHead(200, { 'content-type': 'text/css' }).end('h1{color:#06c;font:32px sans-serif}');
  else res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(png);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// Counts the proxy's decisions, to show that the proxied browser really went through it.
let decisions = 0;
class CountingGuard extends EgressGuard {
  override async check(host: string, port: number) {
    decisions++;
    return super.check(host, port);
  }
}
const proxy = await startEgressProxy(new CountingGuard(new EgressAllowList([new URL(origin).host])));
const executablePath = await resolveExecutable(process.env.CHROMIUM_PATH || undefined);
const proxiedArgs = chromiumArgs({ singleProcess: false, proxy });
const directArgs = proxiedArgs.filter((a) => !a.startsWith('--proxy-server') && !a.startsWith('--proxy-bypass-list'));
const launch = (args: string[]) => puppeteer.launch({ executablePath, args, headless: 'shell', pipe: true, defaultViewport: null });
const browsers: Record<'proxied' | 'direct', Browser> = { proxied: await launch(proxiedArgs), direct: await launch(directArgs) };

async function renderOnce(browser: Browser): Promise<number> {
  const t0 = performance.now();
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(`${origin}/`, { waitUntil: 'load' });
  await page.screenshot({ type: 'png' });
  await context.close();
  return performance.now() - t0;
}

const times: Record<'proxied' | 'direct', number[]> = { proxied: [], direct: [] };
for (const kind of ['proxied', 'direct'] as const) for (let i = 0; i < 3; i++) await renderOnce(browsers[kind]); // warm-up
for (let i = 0; i < rounds; i++) {
  const order = i % 2 ? (['direct', 'proxied'] as const) : (['proxied', 'direct'] as const);
  for (const kind of order) times[kind].push(await renderOnce(browsers[kind]));
}

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { median: +q(0.5).toFixed(1), p90: +q(0.9).toFixed(1), mean: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(1) };
};
const p = stat(times.proxied);
const d = stat(times.direct);
console.log(
  JSON.stringify(
    {
      rounds,
      page: '1 HTML + 1 CSS + 6 images, 1280x800 PNG',
      proxied: p,
      direct: d,
      costMedianMs: +(p.median - d.median).toFixed(1),
      proxyDecisions: decisions,
      proxyRefusals: proxy.refusals,
    },
    null,
    2,
  ),
);

await Promise.all(Object.values(browsers).map((b) => b.close()));
await proxy.close();
server.close();
