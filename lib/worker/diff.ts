// Visual diff of two PNG images (pixelmatch over sharp-decoded pixels). Images of different sizes
// are compared on their common top-left area. The diff image is pixelmatch's: changed pixels in
// red over a faded grey copy of the new image (pixels that differ only by anti-aliasing in yellow,
// not counted as changed).
//
// At the pixel budget (50 MP) a diff is seconds of work on hundreds of MB, inside the worker's
// render slot and beside its egress proxy and DevTools traffic, so none of it may hold the event
// loop: the sizes come from the PNG headers (a diff over the budget is refused before anything is
// decoded); decoding and encoding run in libvips' thread pool (sharp); pixelmatch runs in bands
// of rows with a turn of the event loop between them. Memory stays at two decoded copies of the
// common area (8 bytes a pixel): each band's diff is written back over the new image's pixels
// once no later band reads them.
import { setImmediate as nextTurn } from 'node:timers/promises';
// sharp (a native module) and pixelmatch are imported on the first diff: most jobs never compare.
import { LIMITS } from '../contract/request.js';

interface Size {
  width: number;
  height: number;
}

export interface PixelDiff extends Size {
  /** Pixels of the common area that differ beyond pixelmatch's threshold. */
  changedPixels: number;
  /** changedPixels / (width x height), rounded to 6 decimals. */
  changedRatio: number;
  newSize: Size;
  previousSize: Size;
  /** PNG, width x height: the diff over a faded copy of the new image. */
  diffPng: Uint8Array;
}

/** Past this many pixels in the common area the diff is refused: the pixel budget of one image. */
const DIFF_MAX_PIXELS = LIMITS.maxImagePixels;

/** pixelmatch's colour-distance threshold (0 to 1): 0.1 ignores what the eye cannot tell apart. */
const THRESHOLD = 0.1;
/** Pixels per band: a few ms of pixelmatch, so the event loop turns many times a second. */
const BAND_PIXELS = 100_000;
/**
 * pixelmatch's anti-aliasing test reads a pixel's neighbours and theirs: two rows either side.
 * Each band is diffed with that context, so its own rows come out exactly as in one whole diff.
 */
const CONTEXT_ROWS = 2;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk, without decoding it. */
function pngSize(bytes: Uint8Array, which: string): Size {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 24 || !b.subarray(0, 8).equals(PNG_SIGNATURE) || b.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error(`the ${which} image is not a readable PNG (no PNG header)`);
  }
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** The top-left width x height of a PNG as RGBA bytes, decoded in libvips' threads. */
async function decode(bytes: Uint8Array, size: Size, which: string): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  try {
    let image = sharp(bytes, { limitInputPixels: false }).ensureAlpha();
    const { width, height } = pngSize(bytes, which);
    if (width !== size.width || height !== size.height) image = image.extract({ left: 0, top: 0, ...size });
    return await image.raw({ depth: 'uchar' }).toBuffer();
  } catch (error) {
    const message = (error as Error).message;
    throw new Error(message.includes('not a readable PNG') ? message : `the ${which} image is not a readable PNG (${message})`);
  }
}

export async function diffPngs(next: Uint8Array, previous: Uint8Array): Promise<PixelDiff> {
  const newSize = pngSize(next, 'new');
  const previousSize = pngSize(previous, 'earlier');
  const width = Math.min(newSize.width, previousSize.width);
  const height = Math.min(newSize.height, previousSize.height);
  if (width * height > DIFF_MAX_PIXELS)
    throw new RangeError(`the images' common area is ${width}x${height} pixels; a diff takes at most ${DIFF_MAX_PIXELS}`);
  const [a, b] = await Promise.all([decode(next, { width, height }, 'new'), decode(previous, { width, height }, 'earlier')]);
  const changedPixels = await bandedDiff(a, b, width, height);
  // `a` now holds the diff image.
  const { default: sharp } = await import('sharp');
  const diffPng = await sharp(a, { raw: { width, height, channels: 4 }, limitInputPixels: false })
    .png({ compressionLevel: 6 })
    .toBuffer();
  return {
    changedPixels,
    changedRatio: width * height ? Math.round((changedPixels / (width * height)) * 1e6) / 1e6 : 0,
    width,
    height,
    newSize,
    previousSize,
    diffPng: new Uint8Array(diffPng),
  };
}

/**
 * pixelmatch band by band, yielding between bands. Each band's diff replaces the rows of `a` it
 * covers one band later (when the next band, which reads two rows back, has been diffed).
 * Answers the changed pixels: the diff colour (pure red, which the grey copy never is) in each
 * band's own rows.
 */
async function bandedDiff(a: Buffer, b: Buffer, width: number, height: number): Promise<number> {
  const { default: pixelmatch } = await import('pixelmatch');
  const rowBytes = width * 4;
  const bandRows = Math.max(CONTEXT_ROWS + 1, Math.floor(BAND_PIXELS / Math.max(1, width)));
  // Two band buffers, taken in turn (one is written back while the other is diffed): no
  // allocation per band, so no garbage collection is asked for while the diff runs.
  const outs = [0, 1].map(() => Buffer.allocUnsafe((bandRows + 2 * CONTEXT_ROWS) * rowBytes));
  let changed = 0;
  let pending: { top: number; pixels: Buffer } | undefined;
  for (let top = 0, band = 0; top < height; top += bandRows, band++) {
    const bottom = Math.min(height, top + bandRows);
    const from = Math.max(0, top - CONTEXT_ROWS);
    const to = Math.min(height, bottom + CONTEXT_ROWS);
    const rows = to - from;
    // pixelmatch writes every pixel of its output (grey, red or yellow): no need to clear it.
    const out = outs[band % 2]!.subarray(0, rows * rowBytes);
    pixelmatch(a.subarray(from * rowBytes, to * rowBytes), b.subarray(from * rowBytes, to * rowBytes), out, width, rows, {
      threshold: THRESHOLD,
    });
    const own = out.subarray((top - from) * rowBytes, (bottom - from) * rowBytes);
    for (let i = 0; i < own.length; i += 4) if (own[i] === 255 && own[i + 1] === 0 && own[i + 2] === 0) changed++;
    if (pending) pending.pixels.copy(a, pending.top * rowBytes);
    pending = { top, pixels: own };
    await nextTurn();
  }
  if (pending) pending.pixels.copy(a, pending.top * rowBytes);
  return changed;
}
