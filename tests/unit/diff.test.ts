// The pixel diff without a browser: synthetic PNGs with known changes.
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
  it('counts 0 for identical images and each changed pixel otherwise, marking it in the diff image', () => {
    expect(diffPngs(png(20, 10), png(20, 10))).toMatchObject({ changedPixels: 0, changedRatio: 0, width: 20, height: 10 });
    const changed: Array<[number, number, [number, number, number]]> = [
      [3, 4, [0, 0, 0]],
      [15, 9, [0, 0, 255]],
    ];
    const d = diffPngs(png(20, 10, changed), png(20, 10));
    expect(d).toMatchObject({ changedPixels: 2, changedRatio: 0.01 });
    const out = PNG.sync.read(Buffer.from(d.diffPng));
    const red = (x: number, y: number) => [...out.data.subarray((y * 20 + x) * 4, (y * 20 + x) * 4 + 3)].join() === '255,0,0';
    expect(red(3, 4) && red(15, 9)).toBe(true);
    expect(red(0, 0)).toBe(false);
  });

  it('compares different sizes on the common top-left area and reports both sizes', () => {
    const d = diffPngs(png(30, 10, [[25, 5, [0, 0, 0]]]), png(20, 12, [[19, 11, [0, 0, 0]]]));
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

  it('says which image is not a PNG', () => {
    expect(() => diffPngs(png(2, 2), new Uint8Array([1, 2, 3]))).toThrow(/earlier image is not a readable PNG/);
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
