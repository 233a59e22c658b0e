// format "pdf" through the HTTP API of the local stack (real emulator, worker and Chromium): the
// stored object is a PDF, served as application/pdf, with the paper size and pages asked for.
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack } from '../support/stack.js';
import { shoot, shootFailing } from '../options/shoot.js';
import { PDF_LIMITS, pdfPageCount } from '../../lib/capture/pdf.js';

let pages: PageServer;
let stack: LocalStack;

/** Each page's MediaBox (width x height in points); Chromium writes page dictionaries uncompressed. */
function pageSizes(bytes: Uint8Array): Array<[number, number]> {
  const text = Buffer.from(bytes).toString('latin1');
  return [...text.matchAll(/\/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]/g)].map((m) => [
    Number(m[3]) - Number(m[1]),
    Number(m[4]) - Number(m[2]),
  ]);
}

const COLOURS: Record<string, string> = { '1 0 0': 'red', '0 1 0': 'green', '0 0 1': 'blue' };

/**
 * The background colour of each printed page, in order: Chromium writes one Flate content stream per
 * page, where a section's background is a fill colour ("0 1 0 rg" is green).
 */
function pageColours(bytes: Uint8Array): string[] {
  const buf = Buffer.from(bytes);
  const text = buf.toString('latin1');
  const colours: string[] = [];
  for (const m of text.matchAll(/stream\r?\n/g)) {
    const start = m.index + m[0].length;
    let content: string;
    try {
      content = inflateSync(buf.subarray(start, text.indexOf('endstream', start))).toString('latin1');
    } catch {
      continue; // not a Flate stream (an image, a font)
    }
    const fill = [...content.matchAll(/([\d.]+) ([\d.]+) ([\d.]+) rg/g)].map((f) => COLOURS[`${f[1]} ${f[2]} ${f[3]}`]).find(Boolean);
    if (fill) colours.push(fill);
  }
  return colours;
}

beforeAll(async () => {
  pages = await servePages({
    // Three printed pages (each section breaks the page after it), red, green and blue.
    '/doc': html(
      [
        ['one', '#f00'],
        ['two', '#0f0'],
        ['three', '#00f'],
      ]
        .map(([t, c]) => `<section style="break-after:page;background:${c}"><h1>Page ${t}</h1></section>`)
        .join(''),
    ),
    // One page past the cap.
    '/long': html(
      Array.from({ length: PDF_LIMITS.maxPages + 1 }, (_, i) => `<section style="break-after:page">${i + 1}</section>`).join(''),
    ),
  });
  stack = await startTestStack({ allow: [pages.hostPort], workerConcurrency: 2 });
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
});

describe('format "pdf"', () => {
  it('stores a PDF (.pdf, application/pdf) with A4 portrait pages by default', async () => {
    const shot = await shoot(stack.apiUrl, { url: `${pages.origin}/doc`, format: 'pdf' });
    expect(shot.contentType).toBe('application/pdf');
    expect(new URL(shot.imageUrl).pathname).toMatch(/\.pdf$/);
    expect(Buffer.from(shot.bytes.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
    expect(Buffer.from(shot.bytes.subarray(-32)).toString('latin1')).toContain('%%EOF');
    const sizes = pageSizes(shot.bytes);
    expect(sizes).toHaveLength(3);
    expect(pageColours(shot.bytes)).toEqual(['red', 'green', 'blue']);
    // A4 is 210 x 297 mm = 595 x 842 points.
    for (const [w, h] of sizes) {
      expect(w).toBeCloseTo(595, -1);
      expect(h).toBeCloseTo(842, -1);
    }
  });

  it('prints Letter landscape, only the pages in pageRanges', async () => {
    const shot = await shoot(stack.apiUrl, {
      url: `${pages.origin}/doc`,
      format: 'pdf',
      pdf: { paper: 'Letter', landscape: true, pageRanges: '2-3', margin: { top: '1cm' } },
    });
    const sizes = pageSizes(shot.bytes);
    expect(sizes).toHaveLength(2);
    // Pages two and three, not the first two.
    expect(pageColours(shot.bytes)).toEqual(['green', 'blue']);
    // Letter is 8.5 x 11 in = 612 x 792 points; landscape swaps them.
    for (const [w, h] of sizes) {
      expect(w).toBeCloseTo(792, 0);
      expect(h).toBeCloseTo(612, 0);
    }
  });

  it('keeps exactly the pages pageRanges lists, in order ("1, 3": the first and the last)', async () => {
    const shot = await shoot(stack.apiUrl, { url: `${pages.origin}/doc`, format: 'pdf', pdf: { pageRanges: '1, 3' } });
    expect(pageSizes(shot.bytes)).toHaveLength(2);
    expect(pageColours(shot.bytes)).toEqual(['red', 'blue']);
  });

  it('fails the job (not retried) when pageRanges lies past the last page', async () => {
    const status = await shootFailing(stack.apiUrl, { url: `${pages.origin}/doc`, format: 'pdf', pdf: { pageRanges: '7-9' } });
    expect(status.status).toBe('failed');
    expect(status.error).toMatchObject({ code: 'invalid_options', message: expect.stringMatching(/pdf.pageRanges "7-9"/) });
  });

  it(`fails page_too_large (not retried) past ${PDF_LIMITS.maxPages} pages, saying to print fewer; within the cap with pageRanges`, async () => {
    const status = await shootFailing(stack.apiUrl, { url: `${pages.origin}/long`, format: 'pdf' });
    expect(status).toMatchObject({ status: 'failed', error: { code: 'page_too_large' } });
    expect(status.error?.message).toMatch(/has 201 pages, over the limit of 200; print fewer with pdf.pageRanges/);
    const shot = await shoot(stack.apiUrl, { url: `${pages.origin}/long`, format: 'pdf', pdf: { pageRanges: '1-200' } });
    expect(pdfPageCount(shot.bytes)).toBe(200);
    expect(pageSizes(shot.bytes)).toHaveLength(200);
  });

  it('answers 400 naming the field for options that mean nothing in a PDF', async () => {
    for (const [body, field] of [
      [{ quality: 50 }, 'quality'],
      [{ selector: 'h1' }, 'selector'],
      [{ fullPage: true }, 'fullPage'],
    ] as const) {
      const { res, json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/doc`, format: 'pdf', ...body });
      expect(res.status).toBe(400);
      expect((json.error as { message: string }).message).toMatch(new RegExp(`^${field} does not apply to format "pdf"`));
    }
  });
});
