// Visual diff of two PNG images (pixelmatch over pngjs-decoded pixels). Images of different sizes
// are compared on their common top-left area. The diff image is pixelmatch's: changed pixels in
// red over a faded grey copy of the new image (pixels that differ only by anti-aliasing in yellow,
// not counted as changed).
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';

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

/** Past this many pixels in the common area the diff is refused (each decoded copy is 4 bytes a pixel). */
const DIFF_MAX_PIXELS = 25_000_000;

/** pixelmatch's colour-distance threshold (0 to 1): 0.1 ignores what the eye cannot tell apart. */
const THRESHOLD = 0.1;

function decode(bytes: Uint8Array, which: string): PNG {
  try {
    return PNG.sync.read(Buffer.from(bytes));
  } catch (error) {
    throw new Error(`the ${which} image is not a readable PNG (${(error as Error).message})`);
  }
}

/** The top-left width x height of an RGBA image, rows copied only when the size differs. */
function crop(image: PNG, width: number, height: number): Uint8Array {
  if (image.width === width && image.height === height) return image.data;
  const out = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) image.data.copy(out, y * width * 4, y * image.width * 4, (y * image.width + width) * 4);
  return out;
}

export function diffPngs(next: Uint8Array, previous: Uint8Array): PixelDiff {
  const a = decode(next, 'new');
  const b = decode(previous, 'earlier');
  const width = Math.min(a.width, b.width);
  const height = Math.min(a.height, b.height);
  if (width * height > DIFF_MAX_PIXELS)
    throw new RangeError(`the images' common area is ${width}x${height} pixels; a diff takes at most ${DIFF_MAX_PIXELS}`);
  const out = new PNG({ width, height });
  const changedPixels = pixelmatch(crop(a, width, height), crop(b, width, height), out.data, width, height, { threshold: THRESHOLD });
  return {
    changedPixels,
    changedRatio: width * height ? Math.round((changedPixels / (width * height)) * 1e6) / 1e6 : 0,
    width,
    height,
    newSize: { width: a.width, height: a.height },
    previousSize: { width: b.width, height: b.height },
    diffPng: PNG.sync.write(out),
  };
}
