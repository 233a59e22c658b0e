// format "pdf": the page printed by Chromium (print CSS applies, text stays text), with the
// request's `pdf` settings (their schema: lib/contract/pdf-options.ts).
import type { Page } from 'puppeteer-core';
import { PermanentFailure } from '../contract/failures.js';
import { PAPER_SIZES, pdfSettings } from '../contract/pdf-options.js';
import { printToPdf } from './page-capture.js';

/** A PDF has at most this many pages and bytes (README, format "pdf"): past either it is refused, not cut. */
export const PDF_LIMITS = { maxPages: 200, maxBytes: 50 * 1024 * 1024 } as const;

/** A CSS length in inches, as Page.printToPDF takes margins (numbers are CSS px: 96 to the inch). */
function inches(length: number | string | undefined): number {
  if (length === undefined) return 0;
  if (typeof length === 'number') return length / 96;
  const value = Number.parseFloat(length);
  const unit = length.slice(-2);
  return unit === 'in' ? value : unit === 'cm' ? value / 2.54 : unit === 'mm' ? value / 25.4 : value / 96;
}

/**
 * The pages of a PDF Chromium printed: its page tree's /Count (Skia writes it in the clear; the
 * root's is the largest). Answers 0 when none is found.
 */
export function pdfPageCount(bytes: Uint8Array): number {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let most = 0;
  for (const match of text.matchAll(/\/Type\s*\/Pages\b[^>]*?\/Count\s+(\d+)|\/Count\s+(\d+)[^>]*?\/Type\s*\/Pages\b/g)) {
    most = Math.max(most, Number(match[1] ?? match[2]));
  }
  return most;
}

/** Prints the page with the request's pdf settings, inside the render deadline (`until`, epoch ms). */
export async function printPdf(page: Page, pdf: unknown, until: number): Promise<Uint8Array> {
  const o = pdfSettings(pdf);
  const [width, height] = PAPER_SIZES[o.paper];
  // Web fonts still loading would print in a fallback face: waited for, as puppeteer's page.pdf() does (bounded).
  await Promise.race([
    page.evaluate('document.fonts.ready.then(() => undefined)').catch(() => undefined),
    new Promise((r) => setTimeout(r, Math.max(0, Math.min(5000, until - Date.now() - 1000))).unref()),
  ]);
  let bytes: Uint8Array;
  try {
    bytes = await printToPdf(
      page,
      {
        landscape: o.landscape,
        printBackground: o.printBackground,
        paperWidth: width,
        paperHeight: height,
        marginTop: inches(o.margin.top),
        marginRight: inches(o.margin.right),
        marginBottom: inches(o.margin.bottom),
        marginLeft: inches(o.margin.left),
        pageRanges: o.pageRanges ?? '',
        preferCSSPageSize: false,
      },
      until,
      PDF_LIMITS.maxBytes,
    );
  } catch (error) {
    // Chromium refuses a range past the last page: the request must change, retrying cannot help.
    const message = (error as Error).message ?? '';
    if (/page range/i.test(message)) {
      throw new PermanentFailure(
        'invalid_options',
        `pdf.pageRanges ${JSON.stringify(o.pageRanges)} is not within the document's pages (${message.split('\n')[0]})`,
      );
    }
    throw error;
  }
  const pages = pdfPageCount(bytes);
  if (pages > PDF_LIMITS.maxPages) {
    throw new PermanentFailure(
      'page_too_large',
      `the PDF has ${pages} pages, over the limit of ${PDF_LIMITS.maxPages}; print fewer with pdf.pageRanges (e.g. "1-${PDF_LIMITS.maxPages}")`,
    );
  }
  return bytes;
}
