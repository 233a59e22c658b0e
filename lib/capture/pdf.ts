// format "pdf": the page printed by Chromium (print CSS applies, text stays text), with the
// request's `pdf` settings (their schema: lib/contract/pdf-options.ts).
import type { Page } from 'puppeteer-core';
import { PermanentFailure } from '../contract/failures.js';
import { pdfSettings } from '../contract/pdf-options.js';

export async function printPdf(page: Page, pdf: unknown, timeoutMs: number): Promise<Uint8Array> {
  const o = pdfSettings(pdf);
  try {
    return await page.pdf({
      format: o.paper,
      landscape: o.landscape,
      printBackground: o.printBackground,
      margin: o.margin,
      pageRanges: o.pageRanges ?? '',
      timeout: Math.max(1, timeoutMs),
    });
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
}
