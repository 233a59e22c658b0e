// The quality report every done job carries: cheap checks of the image and of the page's facts
// (lib/capture/page-findings.ts) that flag, with their numbers, what a person would call a bad
// capture. docs/quality.md explains each threshold; bench/quality-cost.ts measures each check's cost.
import { PermanentFailure } from '../contract/failures.js';
import type { QualityChecks, QualityFlag, QualityReport } from '../contract/findings.js';
import { CAPTCHA_PAGE_TEXT, type PageFacts } from './page-findings.js';

const QUALITY_THRESHOLDS = {
  /**
   * blank: flagged when at least this share of the pixels is one colour (4 bits per channel). A page
   * with one line of text on white measures about 0.996: it is sparse, not blank.
   */
  blankDominantShare: 0.999,
  /**
   * tiny: flagged below this many bytes per pixel, per encoder (Chromium's). Measured at 1280x800: an
   * empty white page 0.0177 (PNG), 0.0066 (JPEG 80), 0.0023 (WebP 80); a heading and a line of text
   * 0.025-0.035, 0.013-0.022, 0.006-0.010; a page of text 0.17, 0.10, 0.058. Narrow images cost more per
   * pixel (each row has its overhead): an empty page 400 px wide is 0.025, 0.008, 0.0035, under
   * the blank check's eye but not always this one's.
   */
  tinyBytesPerPixel: { 'image/png': 0.02, 'image/jpeg': 0.009, 'image/webp': 0.004 } as Record<string, number>,
  /** overlay: flagged when one fixed element or dialog is on top at this share of the viewport or more. */
  overlayShare: 0.5,
  /** missingGlyphs: flagged from this many distinct characters drawn as the missing-glyph box. */
  missingGlyphs: 1,
} as const;

/**
 * The blank check looks at most this many pixels (a larger image is sampled down to it, nearest
 * neighbour: real colours, no blending). 250k halves a 1280x800 image each way; at 1M the check cost
 * 22 ms of CPU per job instead of 13 (bench/quality-cost.ts).
 */
const BLANK_SAMPLE_PIXELS = 250_000;

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/** The checks made on the encoded image rather than on the page. */
export type ImageChecks = Pick<QualityChecks, 'blank' | 'tiny'>;

/** blank and tiny: on the encoded image (PNG, JPEG or WebP; a PDF has neither). */
export async function imageChecks(bytes: Uint8Array, contentType: string): Promise<ImageChecks> {
  if (!contentType.startsWith('image/')) return {};
  // Imported on the first image, not with the worker's bundle: sharp is a native module, and a
  // cold start pays for nothing before its first job needs it.
  const { default: sharp } = await import('sharp');
  const image = sharp(bytes, { limitInputPixels: false });
  const { width = 0, height = 0 } = await image.metadata();
  const pixels = width * height;
  const bytesPerPixel = pixels ? bytes.byteLength / pixels : 0;
  const threshold = QUALITY_THRESHOLDS.tinyBytesPerPixel[contentType] ?? 0;
  const tiny = {
    flagged: bytesPerPixel < threshold,
    bytes: bytes.byteLength,
    pixels,
    bytesPerPixel: Math.round(bytesPerPixel * 1e6) / 1e6,
    threshold,
  };
  if (!pixels) return { tiny };
  const scale = Math.min(1, Math.sqrt(BLANK_SAMPLE_PIXELS / pixels));
  const sampled =
    scale < 1
      ? image.resize(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)), { fit: 'fill', kernel: 'nearest' })
      : image;
  const { data, info } = await sampled.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  // Colours in 4 bits per channel: JPEG's noise around a flat colour stays one colour.
  const counts = new Uint32Array(1 << 16);
  let most = 0;
  for (let i = 0; i < data.length; i += 4) {
    const key = ((data[i]! >> 4) << 12) | ((data[i + 1]! >> 4) << 8) | ((data[i + 2]! >> 4) << 4) | (data[i + 3]! >> 4);
    const c = ++counts[key]!;
    if (c > most) most = c;
  }
  const dominantShare = most / (info.width * info.height);
  return {
    blank: {
      flagged: dominantShare >= QUALITY_THRESHOLDS.blankDominantShare,
      dominantShare: round4(dominantShare),
      threshold: QUALITY_THRESHOLDS.blankDominantShare,
    },
    tiny,
  };
}

/** A title or first heading that says the page was not found (English and a few other languages). */
const NOT_FOUND =
  /\b(404|not found|page not found|can(?:no|')t be found|could not be found|couldn't find|does(?:n't| not) exist|no longer (?:exists|available))\b|nicht gefunden|introuvable|no encontrad[ao]|non trovat[ao]|niet gevonden|não encontrad[ao]/i;

/** overlay, challenge, soft404 and missingGlyphs: from the page's facts. */
export function pageChecks(facts: PageFacts, httpStatus: number | null): Omit<QualityChecks, 'blank' | 'tiny'> {
  const overlay = facts.overlay ?? { share: 0 };
  const challenge = facts.challenge ?? { markers: [], widgets: [], textLength: 0 };
  // A CAPTCHA widget on a page with content (a contact form) is no challenge page.
  const widgetPage = challenge.widgets.length > 0 && challenge.textLength < CAPTCHA_PAGE_TEXT;
  const markers = [...challenge.markers, ...challenge.widgets];
  const headings = facts.headings ?? { title: '', h1: '' };
  const said = [headings.title, headings.h1].find((t) => NOT_FOUND.test(t));
  const glyphs = facts.glyphs ?? { missing: 0, checked: 0, examples: [] };
  return {
    overlay: {
      flagged: overlay.share >= QUALITY_THRESHOLDS.overlayShare,
      coveredShare: round4(overlay.share),
      threshold: QUALITY_THRESHOLDS.overlayShare,
      ...(overlay.element ? { element: overlay.element } : {}),
    },
    challenge: { flagged: challenge.markers.length > 0 || widgetPage, markers },
    // Soft: the server said 2xx. An html request has no status, and a real 404 is not soft.
    soft404: {
      flagged: httpStatus !== null && httpStatus >= 200 && httpStatus < 300 && said !== undefined,
      httpStatus,
      ...(said ? { matched: said.slice(0, 200) } : {}),
    },
    missingGlyphs: { flagged: glyphs.missing >= QUALITY_THRESHOLDS.missingGlyphs, ...glyphs },
  };
}

export function qualityReport(checks: QualityChecks): QualityReport {
  const flags = (Object.keys(checks) as QualityFlag[]).filter((name) => checks[name]?.flagged);
  return { flags, checks };
}

/** qualityFail: the job fails quality_failed when a flag it names was raised; the message gives the numbers. */
export function refuseQuality(report: QualityReport, qualityFail: readonly QualityFlag[]): void {
  const failed = report.flags.filter((f) => qualityFail.includes(f));
  if (!failed.length) return;
  const c = report.checks;
  const why: Record<QualityFlag, () => string> = {
    blank: () => `blank (one colour covers ${pct(c.blank!.dominantShare)}, threshold ${pct(c.blank!.threshold)})`,
    tiny: () => `tiny (${c.tiny!.bytesPerPixel} bytes per pixel, threshold ${c.tiny!.threshold})`,
    overlay: () =>
      `overlay (${c.overlay.element ?? 'an element'} covers ${pct(c.overlay.coveredShare)} of the viewport, threshold ${pct(c.overlay.threshold)})`,
    challenge: () => `challenge (${c.challenge.markers.join(', ')})`,
    soft404: () => `soft404 (HTTP ${c.soft404.httpStatus} but the page says ${JSON.stringify(c.soft404.matched)})`,
    missingGlyphs: () => `missingGlyphs (${c.missingGlyphs.missing} characters drawn as boxes, e.g. ${c.missingGlyphs.examples.join(' ')})`,
  };
  throw new PermanentFailure('quality_failed', `quality checks named in qualityFail fired: ${failed.map((f) => why[f]()).join('; ')}`);
}

const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;
