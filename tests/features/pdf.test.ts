// format "pdf" through the HTTP API of the local stack (real emulator, worker and Chromium): the
// stored object is a PDF, served as application/pdf, with the paper size and pages asked for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack } from '../support/stack.js';
import { shoot, shootFailing } from '../options/shoot.js';

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

beforeAll(async () => {
  pages = await servePages({
    // Three printed pages: each section breaks the page after it.
    '/doc': html(['one', 'two', 'three'].map((t) => `<section style="break-after:page"><h1>Page ${t}</h1></section>`).join('')),
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
    // Letter is 8.5 x 11 in = 612 x 792 points; landscape swaps them.
    for (const [w, h] of sizes) {
      expect(w).toBeCloseTo(792, 0);
      expect(h).toBeCloseTo(612, 0);
    }
  });

  it('fails the job (not retried) when pageRanges lies past the last page', async () => {
    const status = await shootFailing(stack.apiUrl, { url: `${pages.origin}/doc`, format: 'pdf', pdf: { pageRanges: '7-9' } });
    expect(status.status).toBe('failed');
    expect(status.error).toMatchObject({ code: 'invalid_options', message: expect.stringMatching(/pdf.pageRanges "7-9"/) });
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
