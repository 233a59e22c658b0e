/// <reference lib="dom" />
// The web page at GET /, driven in a real Chromium (puppeteer-core) against a local stack, where
// the page and the API share an origin.
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { startTestStack } from '../support/stack.js';
import { imageSize } from '../support/images.js';

let pages: PageServer;
let stack: LocalStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let requested: string[];
let consoleErrors: string[];

beforeAll(async () => {
  pages = await servePages({
    '/hello': html(
      '<h1 style="color:#fff;background:#06c;margin:0;padding:40px">Hello from the page test</h1>',
      '<title>Hello page</title>',
    ),
    '/second': html('<h1 style="color:#000;background:#fc0;margin:0;padding:40px">The second page</h1>'),
  });
  stack = await startTestStack({ allow: [pages.hostPort] });
  browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM_PATH, headless: 'shell', args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await pages?.close();
});

beforeEach(async () => {
  // A context per test: its own localStorage, so each test starts with no recent shots.
  context = await browser.createBrowserContext();
  page = await context.newPage();
  requested = [];
  consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('request', (request) => {
    requested.push(request.url());
  });
  await page.goto(`${stack.apiUrl}/`, { waitUntil: 'load' });
});

afterEach(async () => {
  await context?.close();
});

// biome-ignore lint/performance/useDomNodeTextContent: the text as rendered (what a person reads), not the raw nodes
const text = (selector: string) => page.$eval(selector, (el) => (el as HTMLElement).innerText.trim());
const hidden = (selector: string) => page.$eval(selector, (el) => (el as HTMLElement).hidden);

/** Types into the URL field (focused on load) and submits with Enter, as a keyboard user would. */
async function submitUrl(url: string) {
  await page.$eval('#url', (el) => ((el as HTMLInputElement).value = ''));
  await page.focus('#url');
  await page.keyboard.type(url);
  await page.keyboard.press('Enter');
}

async function waitForImage() {
  await page.waitForFunction(
    () => {
      const img = document.querySelector<HTMLImageElement>('#shot');
      return !!img && img.complete && img.naturalWidth > 0 && !document.querySelector<HTMLElement>('#result')!.hidden;
    },
    { timeout: 30_000 },
  );
  return page.$eval('#shot', (img) => ({
    width: (img as HTMLImageElement).naturalWidth,
    height: (img as HTMLImageElement).naturalHeight,
    alt: (img as HTMLImageElement).alt,
    src: (img as HTMLImageElement).src,
  }));
}

describe('the web page', () => {
  it('is one self-contained HTML document with a CSP and no external resource', async () => {
    const res = await fetch(`${stack.apiUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+'/);
    const body = await res.text();
    expect(body).toMatch(/^<!doctype html>/);
    expect(body).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(body).not.toMatch(/@import|url\(\s*['"]?(https?:)?\/\//i);
    // The page itself, and the device picker's list from the same origin: nothing else.
    expect(requested).toEqual([`${stack.apiUrl}/`, `${stack.apiUrl}/devices`]);
    // The inline script runs under that CSP (the hashes match): Enter on an empty field is answered by it.
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#error')!.hidden);
    expect(await text('#error')).toBe('Type the address of a page, e.g. https://example.com');
    expect(consoleErrors).toEqual([]);
  });

  it('labels every control, starts focused on the URL field, and has a live status region', async () => {
    const labelled = await page.$$eval('input, select, textarea', (els) =>
      els.map((el) => ({ id: el.id, label: document.querySelector(`label[for="${el.id}"]`)?.textContent?.trim() ?? '' })),
    );
    expect(labelled).toEqual([
      { id: 'url', label: 'Page URL' },
      { id: 'batchMode', label: 'Several URLs at once (a batch)' },
      { id: 'urls', label: 'Page URLs, one per line (at most 50)' },
      { id: 'width', label: 'Width (px)' },
      { id: 'height', label: 'Height (px)' },
      { id: 'format', label: 'Format' },
      { id: 'device', label: 'Device' },
      { id: 'fullPage', label: 'Whole page (scroll height)' },
      { id: 'blockAds', label: 'Block ads' },
      { id: 'blockTrackers', label: 'Block trackers' },
      { id: 'blockCookieBanners', label: 'Reject cookie banners' },
      { id: 'extractMetadata', label: 'Metadata' },
      { id: 'extractText', label: 'Text' },
      { id: 'extractMarkdown', label: 'Markdown' },
      { id: 'extractHtml', label: 'HTML' },
      { id: 'apiKey', label: 'API key (deployed stages)' },
      { id: 'pdfPaper', label: 'Paper' },
      { id: 'pdfLandscape', label: 'Landscape' },
      { id: 'pdfPrintBackground', label: 'Print backgrounds' },
      { id: 'pdfMargin', label: 'Margin, all sides' },
      { id: 'pdfPageRanges', label: 'Pages' },
      { id: 'advanced', label: 'Extra fields (a JSON object, merged into the request)' },
    ]);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('url');
    expect(await page.$eval('#status', (el) => [el.getAttribute('role'), el.getAttribute('aria-live')])).toEqual(['status', 'polite']);
    expect(await page.$eval('#error', (el) => el.getAttribute('role'))).toBe('alert');
    // Tab order: URL field, then the submit button.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Take screenshot');
  });

  it('type a URL, press Enter: live status, then the screenshot with a download link, listed in recent shots', async () => {
    await submitUrl(`${pages.origin}/hello`);
    await page.waitForFunction(() => /^(Submitting|Queued|Loading|Done)/.test(document.querySelector('#status')!.textContent ?? ''));
    const image = await waitForImage();
    expect(image.width).toBe(1280);
    expect(image.height).toBe(800);
    expect(image.alt).toBe(`Screenshot of ${pages.origin}/hello`);
    expect(await text('#status')).toBe(`Done: ${pages.origin}/hello`);
    expect(await text('#elapsed')).toMatch(/^\d+\.\d s$/);
    expect(await hidden('#error')).toBe(true);
    const link = await page.$eval('#download', (a) => ({ href: (a as HTMLAnchorElement).href, download: a.getAttribute('download') }));
    expect(link.href).toBe(image.src);
    expect(link.download).toMatch(/^127\.0\.0\.1-[0-9a-f]{8}\.png$/);
    const downloaded = await fetch(link.href);
    expect(downloaded.headers.get('content-type')).toBe('image/png');
    // Every request stayed on the two local origins: the page's own and the bucket's (emulator).
    for (const url of requested) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);

    expect(await hidden('#history-card')).toBe(false);
    expect(await page.$$eval('#history li .url', (els) => els.map((el) => el.textContent))).toEqual([`${pages.origin}/hello`]);

    // The list survives a reload (localStorage), and Show brings the shot back.
    await page.reload({ waitUntil: 'load' });
    expect(await page.$$eval('#history li .url', (els) => els.map((el) => el.textContent))).toEqual([`${pages.origin}/hello`]);
    expect(await text('#history li .meta')).toMatch(/done$/);
    await page.click('#history li button');
    expect((await waitForImage()).width).toBe(1280);
    expect(await text('#status')).toBe(`Shot of ${pages.origin}/hello`);
  });

  it('sends the chosen options: 640x480 JPEG', async () => {
    await page.type('#width', '640');
    await page.type('#height', '480');
    await page.select('#format', 'jpeg');
    await submitUrl(`${pages.origin}/hello`);
    const image = await waitForImage();
    expect([image.width, image.height]).toEqual([640, 480]);
    expect(await page.$eval('#download', (a) => a.getAttribute('download'))).toMatch(/\.jpg$/);
  });

  it('extract boxes go into the request; the result shows the quality report, the page title and a link to the extracts', async () => {
    await page.click('#extractMetadata');
    await page.click('#extractMarkdown');
    await submitUrl(`${pages.origin}/hello`);
    await waitForImage();
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#extracts-line')!.hidden);
    expect(await text('#quality')).toBe('Quality: no check flagged this capture');
    const href = await page.$eval('#extracts', (a) => (a as HTMLAnchorElement).href);
    const doc = (await (await fetch(href)).json()) as { metadata: { title: string; finalUrl: string }; markdown: string; text?: string };
    expect(doc.metadata.finalUrl).toBe(`${pages.origin}/hello`);
    expect(doc.metadata.title).toBe('Hello page');
    expect(await text('#page-meta')).toBe('Hello page');
    expect(typeof doc.markdown).toBe('string');
    expect(doc.text).toBeUndefined();
  });

  it('format PDF: the PDF options appear, go into the request as its pdf field, and the result is a PDF to open or download', async () => {
    expect(await hidden('#pdf-box')).toBe(true);
    await page.select('#format', 'pdf');
    expect(await hidden('#pdf-box')).toBe(false);
    const sent: unknown[] = [];
    page.on('request', (req) => {
      if (req.method() === 'POST' && req.url().endsWith('/screenshots')) sent.push(JSON.parse(req.postData() ?? '{}'));
    });
    await page.select('#pdfPaper', 'Letter');
    await page.click('#pdfLandscape');
    await page.type('#pdfMargin', '10mm');
    await page.type('#pdfPageRanges', '1');
    await submitUrl(`${pages.origin}/hello`);
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#result')!.hidden, { timeout: 30_000 });
    const side = '10mm';
    expect(sent).toEqual([
      {
        url: `${pages.origin}/hello`,
        format: 'pdf',
        pdf: {
          paper: 'Letter',
          landscape: true,
          printBackground: true,
          margin: { top: side, right: side, bottom: side, left: side },
          pageRanges: '1',
        },
      },
    ]);
    expect(await text('#status')).toBe(`Done: ${pages.origin}/hello`);
    expect(await hidden('#shot')).toBe(true); // a PDF is not shown as an image
    const link = await page.$eval('#download', (a) => ({
      href: (a as HTMLAnchorElement).href,
      download: a.getAttribute('download'),
      text: a.textContent,
    }));
    expect(link.download).toMatch(/^127\.0\.0\.1-[0-9a-f]{8}\.pdf$/);
    expect(link.text).toBe('Download PDF');
    expect(await page.$eval('#open', (a) => (a as HTMLAnchorElement).href)).toBe(link.href);
    const res = await fetch(link.href);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await res.arrayBuffer()).toString('latin1');
    expect(pdf.startsWith('%PDF-')).toBe(true);
    // One page (pageRanges "1"), US Letter landscape: 11 x 8.5 in = 792 x 612 pt.
    const boxes = [...pdf.matchAll(/\/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]/g)].map((m) => [
      Math.round(Number(m[1])),
      Math.round(Number(m[2])),
    ]);
    expect(boxes).toEqual([[792, 612]]);
    expect(consoleErrors).toEqual([]);
  });

  it('batch mode: several URLs, one per line, go to POST /batches with the options; the batch status and a link per job follow', async () => {
    await page.click('#batchMode');
    expect(await hidden('#single-box')).toBe(true);
    expect(await hidden('#batch-box')).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('urls');
    const sent: unknown[] = [];
    page.on('request', (req) => {
      if (req.method() === 'POST' && req.url().endsWith('/batches')) sent.push(JSON.parse(req.postData() ?? '{}'));
    });
    await page.type('#width', '640');
    await page.type('#height', '480');
    await page.type('#urls', `${pages.origin}/hello\n\n  ${pages.origin}/second  \n`);
    await page.click('#batch-box button[type="submit"]');
    await page.waitForFunction(() => /^Batch (done|partial)/.test(document.querySelector('#batch-status')!.textContent ?? ''), {
      timeout: 30_000,
    });
    expect(sent).toEqual([
      {
        requests: [
          { url: `${pages.origin}/hello`, width: 640, height: 480 },
          { url: `${pages.origin}/second`, width: 640, height: 480 },
        ],
      },
    ]);
    expect(await text('#batch-status')).toBe('Batch done: 2 of 2 done, 0 failed, 0 waiting');
    expect(await text('#status')).toBe('Done: all 2 screenshots');
    const batchHref = await page.$eval('#batch-link', (a) => (a as HTMLAnchorElement).href);
    expect(batchHref).toMatch(new RegExp(`^${stack.apiUrl}/batches/[0-9a-f-]{36}$`));
    const jobs = await page.$$eval('#batch-jobs li', (items) =>
      items.map((li) => ({
        status: (li as HTMLElement).dataset.status,
        url: li.querySelector('.url')?.textContent,
        image: li.querySelector<HTMLAnchorElement>('a.open')?.href,
        download: li.querySelector('a.download')?.getAttribute('download'),
        statusUrl: li.querySelector<HTMLAnchorElement>('a.status-link')?.href,
      })),
    );
    expect(jobs.map((j) => [j.status, j.url])).toEqual([
      ['done', `${pages.origin}/hello`],
      ['done', `${pages.origin}/second`],
    ]);
    const batch = (await (await fetch(batchHref)).json()) as { jobs: Array<{ id: string }> };
    for (const [i, job] of jobs.entries()) {
      expect(job.statusUrl).toBe(`${stack.apiUrl}/screenshots/${batch.jobs[i]!.id}`);
      expect(job.download).toMatch(/^127\.0\.0\.1-[0-9a-f]{8}\.png$/);
      const image = new Uint8Array(await (await fetch(job.image!)).arrayBuffer());
      expect(imageSize(image)).toEqual({ width: 640, height: 480 });
    }
    expect(consoleErrors).toEqual([]);
  });

  it('batch mode: a list the API refuses shows its message (naming the line); a batch with a failing job ends partial, that job with its error', async () => {
    await page.click('#batchMode');
    await page.type('#urls', `${pages.origin}/hello\nftp://x\n`);
    await page.click('#batch-box button[type="submit"]');
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#error')!.hidden);
    expect(await text('#status')).toBe('Refused');
    expect(await text('#error')).toMatch(/^requests\[1\]\.url scheme "ftp" is not allowed; use http or https/);
    expect(await hidden('#batch-card')).toBe(true);

    await page.$eval('#urls', (el) => ((el as HTMLTextAreaElement).value = ''));
    await page.type('#urls', `${pages.origin}/hello\nhttp://no-such-host.invalid/`);
    await page.click('#batch-box button[type="submit"]');
    await page.waitForFunction(() => /^Batch (done|partial)/.test(document.querySelector('#batch-status')!.textContent ?? ''), {
      timeout: 30_000,
    });
    expect(await text('#batch-status')).toBe('Batch partial: 1 of 2 done, 1 failed, 0 waiting');
    expect(await text('#status')).toBe('Partly done: 1 of 2 failed');
    const lines = await page.$$eval('#batch-jobs li', (items) =>
      items.map((li) => [(li as HTMLElement).dataset.status, !!li.querySelector('a.open'), li.querySelector('.why')?.textContent ?? '']),
    );
    expect(lines[0]).toEqual(['done', true, '']);
    expect(lines[1]).toEqual(['failed', false, expect.stringMatching(/^: .*no-such-host\.invalid/)]);
    expect(await hidden('#error')).toBe(true);
  });

  it('batch mode with an empty list: says so and sends nothing', async () => {
    await page.click('#batchMode');
    await page.click('#batch-box button[type="submit"]');
    expect(await text('#error')).toBe('Type the addresses of the pages, one per line');
    expect(requested.some((u) => u.endsWith('/batches'))).toBe(false);
  });

  it('device picker (from GET /devices) and the advanced JSON box: both go into the request, the image is the device size', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#device option').length > 100);
    expect(await page.$eval('#device option[value="iPhone 15"]', (o) => o.textContent)).toMatch(/iPhone 15 \(393×659 @3x\)/);
    const sent: unknown[] = [];
    const onRequest = (req: { method(): string; url(): string; postData(): string | undefined }) => {
      if (req.method() === 'POST' && req.url().endsWith('/screenshots')) sent.push(JSON.parse(req.postData() ?? '{}'));
    };
    page.on('request', onRequest);
    await page.select('#device', 'iPhone SE');
    await page.click('#advanced-box summary');
    await page.type('#advanced', '{"clip": {"x": 0, "y": 0, "width": 100, "height": 50}, "locale": "de-DE"}');
    await submitUrl(`${pages.origin}/hello`);
    const image = await waitForImage();
    page.off('request', onRequest);
    expect([image.width, image.height]).toEqual([200, 100]); // the clip at the iPhone SE's scale 2
    expect(sent).toEqual([
      { url: `${pages.origin}/hello`, device: 'iPhone SE', clip: { x: 0, y: 0, width: 100, height: 50 }, locale: 'de-DE' },
    ]);
  });

  it('advanced JSON that is not an object: says so and sends nothing', async () => {
    await page.click('#advanced-box summary');
    await page.type('#advanced', '[1, 2');
    await submitUrl(`${pages.origin}/hello`);
    expect(await text('#error')).toMatch(/Advanced must be a JSON object/);
    expect(requested.some((u) => u.endsWith('/screenshots'))).toBe(false);
  });

  it('sends the API key typed in Options as x-api-key (deployed stages require one on POST)', async () => {
    const sent: Array<string | undefined> = [];
    const onRequest = (req: { method(): string; url(): string; headers(): Record<string, string> }) => {
      if (req.method() === 'POST' && req.url().endsWith('/screenshots')) sent.push(req.headers()['x-api-key']);
    };
    page.on('request', onRequest);
    await page.type('#apiKey', 'k-123');
    await submitUrl(`${pages.origin}/hello`);
    expect((await waitForImage()).width).toBe(1280);
    page.off('request', onRequest);
    expect(sent).toEqual(['k-123']);
  });

  it('a link with ?url=...&run=1 fills the field and takes the shot at once', async () => {
    await page.goto(`${stack.apiUrl}/?url=${encodeURIComponent(`${pages.origin}/hello`)}&run=1`, { waitUntil: 'load' });
    expect(await page.$eval('#url', (el) => (el as HTMLInputElement).value)).toBe(`${pages.origin}/hello`);
    expect((await waitForImage()).width).toBe(1280);
  });

  it('shows the error for a URL the service refuses, and no image', async () => {
    await submitUrl('ftp://x');
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#error')!.hidden);
    expect(await text('#error')).toMatch(/url scheme "ftp" is not allowed; use http or https/);
    expect(await text('#status')).toBe('Refused');
    expect(await hidden('#result')).toBe(true);

    await submitUrl('http://10.0.0.1/');
    await page.waitForFunction(() => /private or reserved/.test(document.querySelector('#error')!.textContent ?? ''));
    expect(await hidden('#result')).toBe(true);
    // Refused requests never became jobs: nothing to list.
    expect(await hidden('#history-card')).toBe(true);
  });

  it('shows the job error when the screenshot fails', async () => {
    await submitUrl('http://no-such-host.invalid/');
    await page.waitForFunction(() => !document.querySelector<HTMLElement>('#error')!.hidden, { timeout: 30_000 });
    expect(await text('#status')).toBe('Failed: http://no-such-host.invalid/');
    expect(await text('#error')).toMatch(/no-such-host\.invalid/);
    expect(await hidden('#result')).toBe(true);
    expect(await text('#history li .meta')).toMatch(/failed$/);
  });
});
