// What a capture found besides its pixels, as the status, the webhook and the extracts document
// carry it: the page's metadata and content (`extract`), and the quality report every done job
// gets. The checks themselves live in lib/capture/page-findings.ts (in the page) and
// lib/capture/image-quality.ts (on the image); docs/quality.md gives every threshold.
import { z } from 'zod';

export const EXTRACT_KINDS = ['metadata', 'text', 'markdown', 'html'] as const;
export type ExtractKind = (typeof EXTRACT_KINDS)[number];

export const QUALITY_FLAGS = ['blank', 'overlay', 'challenge', 'soft404', 'missingGlyphs', 'tiny'] as const;
export type QualityFlag = (typeof QUALITY_FLAGS)[number];

/**
 * The extracts document's size cap per field, in UTF-8 bytes: a field over it is cut there and named in
 * the document's `truncated`. 4 + 1 + 1 MB keeps the document far below a Lambda response or memory concern.
 */
export const EXTRACT_CAPS = { html: 4 * 1024 * 1024, text: 1024 * 1024, markdown: 1024 * 1024 } as const;

const uri = z.string().meta({ format: 'uri' });
const text = z.string().nullable();

export const pageMetadataSchema = z
  .object({
    title: text.describe('document.title'),
    description: text.describe('<meta name="description">'),
    lang: text.describe('<html lang>'),
    canonical: uri.nullable().describe('<link rel="canonical">, absolute'),
    openGraph: z
      .record(z.string(), z.string())
      .describe('og:* meta properties without the prefix (title, description, image, url, type, site_name...); URLs absolute'),
    twitter: z
      .record(z.string(), z.string())
      .describe('twitter:* meta names without the prefix (card, title, description, image, site...); URLs absolute'),
    favicon: uri.nullable().describe('The first <link rel="icon"> (or "shortcut icon"), absolute; else /favicon.ico of the page'),
    appleTouchIcon: uri.nullable().describe('<link rel="apple-touch-icon">, absolute'),
    finalUrl: uri.describe('The page the browser ended on, after redirects'),
    httpStatus: z.int().nullable().describe("The main document's HTTP status (null for an html request)"),
    contentType: text.describe("The main document's content type (its response header, else document.contentType)"),
  })
  .describe('extract with "metadata": the page’s metadata, from the same page the image shows');
export type PageMetadata = z.infer<typeof pageMetadataSchema>;

/** extracts/<id>.json: what `extract` asked for, each field capped (EXTRACT_CAPS). */
export interface ExtractsDocument {
  metadata?: PageMetadata;
  text?: string;
  markdown?: string;
  html?: string;
  /** The fields cut at their cap. */
  truncated?: Array<'text' | 'markdown' | 'html'>;
}

const share = z.number().describe('0 to 1, 4 decimals');
const flagged = z.boolean();
export const qualityReportSchema = z
  .object({
    flags: z.array(z.enum(QUALITY_FLAGS)).describe('The checks that fired; empty for a capture that looks right'),
    checks: z.object({
      blank: z
        .object({ flagged, dominantShare: share.describe('Share of the pixels in the most common colour'), threshold: share })
        .optional()
        .describe('Images only (not PDF)'),
      tiny: z
        .object({
          flagged,
          bytes: z.int(),
          pixels: z.int(),
          bytesPerPixel: z.number(),
          threshold: z.number().describe('Flagged below this many bytes per pixel'),
        })
        .optional()
        .describe('Images only (not PDF)'),
      overlay: z.object({
        flagged,
        coveredShare: share.describe('Share of the viewport one fixed, sticky or dialog element covers on top of the page'),
        threshold: share,
        element: z.string().optional().describe('That element, as tag#id.class[role]'),
      }),
      challenge: z.object({ flagged, markers: z.array(z.string()).describe('The challenge or CAPTCHA markers found') }),
      soft404: z.object({
        flagged,
        httpStatus: z.int().nullable(),
        matched: z.string().optional().describe('The title or h1 that says not found'),
      }),
      missingGlyphs: z.object({
        flagged,
        missing: z.int().describe('Distinct characters drawn as the missing-glyph box'),
        checked: z.int().describe('Distinct characters checked'),
        examples: z.array(z.string()).describe('Up to 10 of them, as U+XXXX'),
      }),
    }),
  })
  .describe('Checks of the capture that flag what a person would call a bad capture (docs/quality.md)');
export type QualityReport = z.infer<typeof qualityReportSchema>;
export type QualityChecks = QualityReport['checks'];
