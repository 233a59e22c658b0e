// The request's `pdf` settings (format "pdf"): their schema, spliced into lib/contract/request.ts's
// one schema, and the settings a PDF job prints with (lib/capture/pdf.ts prints them).
import { z } from 'zod';

/** Paper sizes Chromium knows, as a user writes them; width x height in inches (portrait). */
export const PAPER_SIZES = {
  A0: [33.1, 46.8],
  A1: [23.4, 33.1],
  A2: [16.54, 23.4],
  A3: [11.7, 16.54],
  A4: [8.27, 11.7],
  A5: [5.83, 8.27],
  A6: [4.13, 5.83],
  Letter: [8.5, 11],
  Legal: [8.5, 14],
  Tabloid: [11, 17],
  Ledger: [17, 11],
} as const;
type Paper = keyof typeof PAPER_SIZES;
const PAPERS = Object.keys(PAPER_SIZES) as [Paper, ...Paper[]];

// A CSS length as Chromium's printing takes it: a number (CSS px) or "<number><px|in|cm|mm>".
const LENGTH = /^\d{1,4}(\.\d{1,3})?(px|in|cm|mm)$/;
const length = (name: string) => {
  const error = `${name} must be a number of CSS pixels (0 to 2000) or a length like "10mm", "0.5in", "1cm", "20px"`;
  return z.union([z.number().min(0, { error }).max(2000, { error }), z.string().regex(LENGTH, { error })], { error }).optional();
};

// "1-5, 8, 11-13": pages and ranges, 1-based, as Chromium's printToPDF takes them.
const PAGE_RANGES = /^\s*\d{1,5}\s*(-\s*\d{0,5}\s*)?(,\s*\d{1,5}\s*(-\s*\d{0,5}\s*)?)*$/;

export const pdfOptionsSchema = z
  .strictObject(
    {
      paper: z
        .enum(PAPERS, { error: `pdf.paper must be one of ${PAPERS.map((p) => `"${p}"`).join(', ')}` })
        .default('A4')
        .describe('Paper size'),
      landscape: z.boolean({ error: 'pdf.landscape must be true or false' }).default(false).describe('Landscape orientation'),
      printBackground: z
        .boolean({ error: 'pdf.printBackground must be true or false' })
        .default(true)
        .describe('Print background colours and images (on by default: the PDF looks like the page)'),
      margin: z
        .strictObject(
          {
            top: length('pdf.margin.top'),
            right: length('pdf.margin.right'),
            bottom: length('pdf.margin.bottom'),
            left: length('pdf.margin.left'),
          },
          { error: 'pdf.margin must be an object like {"top": "10mm", "bottom": "10mm"} (fields top, right, bottom, left)' },
        )
        .default({})
        .describe('Page margins: CSS px as a number, or a length with px, in, cm or mm; 0 when omitted'),
      pageRanges: z
        .string({ error: 'pdf.pageRanges must be a string like "1-5, 8, 11-13"' })
        .regex(PAGE_RANGES, { error: 'pdf.pageRanges must list pages and ranges like "1-5, 8, 11-13" (1-based)' })
        .optional()
        .describe('Only these pages, e.g. "1-5, 8, 11-13"; all pages when omitted'),
    },
    { error: 'pdf must be an object like {"paper": "A4", "landscape": false}' },
  )
  .describe('PDF settings; only with format "pdf"');

type PdfOptions = z.output<typeof pdfOptionsSchema>;

/**
 * Fields that mean nothing on paper: a PDF is paginated vector output, not a bitmap of a box.
 * Listed by name so fields added later (clip, omitBackground) are refused as soon as they exist.
 */
const NOT_FOR_PDF = ['quality', 'fullPage', 'selector', 'clip', 'omitBackground'] as const;

/** Refinement for the request schema: pdf settings only with format "pdf", no bitmap-only fields with it. */
export function refusePdfMismatches(value: Record<string, unknown>, ctx: z.RefinementCtx): void {
  if (value.format !== 'pdf') {
    if (value.pdf !== undefined)
      ctx.addIssue({ code: 'custom', path: ['pdf'], message: 'pdf applies to format "pdf" only; drop it or set format to "pdf"' });
    return;
  }
  for (const field of NOT_FOR_PDF) {
    const v = value[field];
    if (v !== undefined && v !== false) {
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `${field} does not apply to format "pdf"; drop it (a PDF is paged, use pdf.paper and pdf.pageRanges)`,
      });
    }
  }
}

/** The settings a PDF job prints with: the request's, defaults filled in (also for the cache key). */
export const pdfSettings = (pdf: unknown): PdfOptions => pdfOptionsSchema.parse(pdf ?? {});
