// The documented maximum height of a full-page image: a height cap, a pixel budget, WebP's limit.
import { describe, expect, it } from 'vitest';
import { LIMITS, screenshotOptionsSchema } from '../../lib/contract/request.js';
import { fullPageMaxImageHeight } from '../../lib/capture/stitch.js';

const max = (o: Record<string, unknown>) => fullPageMaxImageHeight(screenshotOptionsSchema.parse(o));

describe('fullPageMaxImageHeight', () => {
  it('is the height cap for narrow pages', () => {
    expect(max({ width: 320 })).toBe(LIMITS.fullPageMaxHeight);
    expect(max({ width: 800 })).toBe(62_500); // 50 MP / 800 px
  });

  it('keeps wide and dense images inside the pixel budget', () => {
    expect(max({ width: 1280 })).toBe(39_062);
    expect(max({ width: 1280, deviceScaleFactor: 2 })).toBe(19_531);
    expect(max({ width: 3840, deviceScaleFactor: 3 }) * 3840 * 3).toBeLessThanOrEqual(LIMITS.maxImagePixels);
  });

  it('stops webp at 16383 px, the longest side WebP can hold', () => {
    expect(max({ width: 320, format: 'webp' })).toBe(16_383);
  });
});
