// Full-page captures of any height. Chromium captures at most 16384 image pixels in one go
// (its largest compositor surface), so a taller page is captured in slices of at most that height
// and the slices are stitched into one image with sharp (libvips, prebuilt for linux-x64). A page
// that fits in one slice is captured directly, exactly as before: sharp only runs (and is only
// imported) for tall pages.
import type { Page } from 'puppeteer-core';
import { LIMITS, type ScreenshotOptions } from '../contract/request.js';
import { captureImage, type ImageEncoding } from './page-capture.js';

/** WebP cannot hold a side longer than this: webp full pages are cut here whatever the budget. */
const WEBP_MAX_SIDE = 16_383;

/**
 * The tallest full-page image, in image pixels, for these options: LIMITS.fullPageMaxHeight, and
 * at most LIMITS.maxImagePixels in all (so a wide page at a high pixel density is cut
 * sooner: memory and encoding time grow with the pixel count), and WebP's own limit.
 */
export function fullPageMaxImageHeight(o: Pick<ScreenshotOptions, 'width' | 'deviceScaleFactor' | 'format'>): number {
  const imageWidth = Math.ceil(o.width * o.deviceScaleFactor);
  const byBudget = Math.floor(LIMITS.maxImagePixels / imageWidth);
  return Math.min(LIMITS.fullPageMaxHeight, byBudget, o.format === 'webp' ? WEBP_MAX_SIDE : Number.POSITIVE_INFINITY);
}

/**
 * Captures `cssHeight` CSS px of the page from the top, `width` CSS px wide: one capture when it
 * fits Chromium's limit, else lossless PNG slices stitched and encoded once in the asked format.
 */
export async function captureFullPage(
  page: Page,
  width: number,
  cssHeight: number,
  dsf: number,
  encoding: ImageEncoding,
  until: number,
): Promise<Uint8Array> {
  const sliceCss = Math.floor(LIMITS.maxCaptureSide / dsf);
  if (cssHeight <= sliceCss) {
    return captureImage(page, encoding, until, { x: 0, y: 0, width, height: cssHeight });
  }
  const { default: sharp } = await import('sharp');
  const slices: Array<{ input: Buffer; top: number; left: 0 }> = [];
  let top = 0;
  for (let y = 0; y < cssHeight; y += sliceCss) {
    const height = Math.min(sliceCss, cssHeight - y);
    const bytes = await captureImage(page, { type: 'png', omitBackground: encoding.omitBackground, optimizeForSpeed: true }, until, {
      x: 0,
      y,
      width,
      height,
    });
    const input = Buffer.from(bytes);
    slices.push({ input, top, left: 0 });
    // Placed by each slice's real height: with a fractional pixel density the rounding is Chromium's.
    top += (await sharp(input).metadata()).height ?? Math.round(height * dsf);
  }
  const canvas = sharp({
    create: { width: Math.round(width * dsf), height: top, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    limitInputPixels: false,
  }).composite(slices);
  const encoded =
    encoding.type === 'jpeg'
      ? canvas.jpeg({ quality: encoding.quality })
      : encoding.type === 'webp'
        ? canvas.webp({ quality: encoding.quality })
        : canvas.png({ compressionLevel: encoding.optimizeForSpeed ? 1 : 6 });
  return new Uint8Array(await encoded.toBuffer());
}
