// The pixel diff without a browser: synthetic PNGs with known changes.
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { diffPngs } from '../../lib/worker/diff.js';
import { screenshotRequestSchema } from '../../lib/contract/request.js';

/** A white width x height PNG with the given pixels set to a colour. */
function png(width: number, height: number, paint: Array<[number, number, [number, number, number]]> = []): Uint8Array {
  const image = new PNG({ width, height });
  image.data.fill(255);
  for (const [x, y, [r, g, b]] of paint) image.data.set([r, g, b, 255], (y * width + x) * 4);
  return PNG.sync.write(image);
}

describe('diffPngs', () => {
  it('counts 0 for identical images and each changed pixel otherwise, marking it in the diff image', async () => {
    expect(await diffPngs(png(20, 10), png(20, 10))).toMatchObject({ changedPixels: 0, changedRatio: 0, width: 20, height: 10 });
    const changed: Array<[number, number, [number, number, number]]> = [
      [3, 4, [0, 0, 0]],
      [15, 9, [0, 0, 255]],
    ];
    const d = await diffPngs(png(20, 10, changed), png(20, 10));
    expect(d).toMatchObject({ changedPixels: 2, changedRatio: 0.01 });
    const out = PNG.sync.read(Buffer.from(d.diffPng));
    const red = (x: number, y: number) => [...out.data.subarray((y * 20 + x) * 4, (y * 20 + x) * 4 + 3)].join() === '255,0,0';
    expect(red(3, 4) && red(15, 9)).toBe(true);
    expect(red(0, 0)).toBe(false);
  });

  it('compares different sizes on the common top-left area and reports both sizes', async () => {
    const d = await diffPngs(png(30, 10, [[25, 5, [0, 0, 0]]]), png(20, 12, [[19, 11, [0, 0, 0]]]));
    // (25, 5) and (19, 11) are both outside the common 20 x 10 area.
    expect(d).toMatchObject({
      changedPixels: 0,
      width: 20,
      height: 10,
      newSize: { width: 30, height: 10 },
      previousSize: { width: 20, height: 12 },
    });
    expect(PNG.sync.read(Buffer.from(d.diffPng)).width).toBe(20);
  });

  it('says which image is not a PNG', async () => {
    await expect(diffPngs(png(2, 2), new Uint8Array([1, 2, 3]))).rejects.toThrow(/earlier image is not a readable PNG/);
  });

  it('diffs in bands exactly as one whole pixelmatch does (anti-aliasing across band edges included)', async () => {
    // 600 px wide: bands of 416 rows. Noise on both sides of every band edge, some of it
    // anti-aliasing-like single pixels, compared with pixelmatch over the whole image.
    const width = 600;
    const height = 1300;
    let seed = 7;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const paint: Array<[number, number, [number, number, number]]> = [];
    for (let i = 0; i < 4000; i++) {
      const grey = Math.floor(rand() * 256);
      paint.push([Math.floor(rand() * width), Math.floor(rand() * height), [grey, grey, Math.floor(rand() * 256)]]);
    }
    for (const edge of [416, 832, 1248]) for (let x = 0; x < width; x += 3) paint.push([x, edge - 1 + (x % 3), [0, 0, 0]]);
    const next = png(width, height, paint);
    const previous = png(width, height, paint.slice(0, 1500));
    const whole = new PNG({ width, height });
    const expected = pixelmatch(
      PNG.sync.read(Buffer.from(next)).data,
      PNG.sync.read(Buffer.from(previous)).data,
      whole.data,
      width,
      height,
      {
        threshold: 0.1,
      },
    );
    const d = await diffPngs(next, previous);
    expect(d.changedPixels).toBe(expected);
    expect(Buffer.from(PNG.sync.read(Buffer.from(d.diffPng)).data).equals(whole.data)).toBe(true);
  });

  it('refuses a diff over the pixel budget from the PNG headers, before decoding anything', async () => {
    // A header that claims 10000 x 10000 with no pixel data: decoding it would fail; the size check comes first.
    const header = Buffer.from(png(1, 1)).subarray(0, 33);
    header.writeUInt32BE(10_000, 16);
    header.writeUInt32BE(10_000, 20);
    await expect(diffPngs(header, header)).rejects.toThrow(RangeError);
    await expect(diffPngs(header, header)).rejects.toThrow(/common area is 10000x10000 pixels; a diff takes at most 50000000/);
  });
});

describe('compareTo in the request', () => {
  it('takes a screenshot id (any case, kept lower-case) with png only', () => {
    const id = '0F8FAD5B-D9CB-469F-A165-70867728950E';
    expect(screenshotRequestSchema.parse({ url: 'https://example.com', compareTo: id }).compareTo).toBe(id.toLowerCase());
    expect(() => screenshotRequestSchema.parse({ url: 'https://example.com', compareTo: 'yesterday' })).toThrow(
      /compareTo must be the id of an earlier screenshot/,
    );
    expect(() => screenshotRequestSchema.parse({ url: 'https://example.com', compareTo: id, format: 'webp' })).toThrow(
      /compareTo compares PNG images only/,
    );
  });
});
