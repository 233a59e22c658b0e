// The quality report's judgement without a browser: the image checks on images made here, the page
// checks on given facts, and qualityFail's message for every flag.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageChecks, pageChecks, qualityReport, refuseQuality } from '../../lib/capture/quality.js';

const png = (width: number, height: number, raw: Buffer) =>
  sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();

describe('image checks', () => {
  it('a one-colour image is blank (share 1); noise is neither blank nor tiny', async () => {
    const flat = await imageChecks(await png(640, 400, Buffer.alloc(640 * 400 * 3, 200)), 'image/png');
    expect(flat.blank).toEqual({ flagged: true, dominantShare: 1, threshold: 0.999 });
    const noise = Buffer.alloc(640 * 400 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    const busy = await imageChecks(await png(640, 400, noise), 'image/png');
    expect(busy.blank!.flagged).toBe(false);
    expect(busy.tiny).toMatchObject({ flagged: false, pixels: 256_000 });
  });

  it('a large image is sampled, not skipped; a PDF has no image checks', async () => {
    const big = await imageChecks(await png(3000, 2000, Buffer.alloc(3000 * 2000 * 3, 255)), 'image/png');
    expect(big.blank!.flagged).toBe(true);
    expect(big.tiny!.pixels).toBe(6_000_000);
    expect(await imageChecks(new Uint8Array([37, 80, 68, 70]), 'application/pdf')).toEqual({});
  });
});

describe('page checks and qualityFail', () => {
  const facts = {
    overlay: { share: 0.64, element: 'div#wall' },
    challenge: { markers: [], widgets: ['recaptcha'], textLength: 40 },
    headings: { title: 'Welcome', h1: 'Oops, page not found' },
    glyphs: { missing: 2, checked: 30, examples: ['U+10FFFD', 'U+F8FF'] },
  };

  it('judges the facts against the thresholds', () => {
    const c = pageChecks(facts, 200);
    expect(c.overlay).toEqual({ flagged: true, coveredShare: 0.64, threshold: 0.5, element: 'div#wall' });
    expect(c.challenge).toEqual({ flagged: true, markers: ['recaptcha'] });
    expect(c.soft404).toEqual({ flagged: true, httpStatus: 200, matched: 'Oops, page not found' });
    expect(c.missingGlyphs.flagged).toBe(true);
    // A real 404, a CAPTCHA on a long page: neither is flagged.
    const long = pageChecks({ ...facts, challenge: { ...facts.challenge, textLength: 5000 } }, 404);
    expect([long.soft404.flagged, long.challenge.flagged]).toEqual([false, false]);
  });

  it('qualityFail names every flag it fails on, with its numbers; flags it does not name pass', async () => {
    const image = await imageChecks(await png(320, 200, Buffer.alloc(320 * 200 * 3, 255)), 'image/png');
    const report = qualityReport({ ...image, ...pageChecks(facts, 200) });
    expect(report.flags).toEqual(['blank', 'tiny', 'overlay', 'challenge', 'soft404', 'missingGlyphs']);
    expect(() => refuseQuality(report, [])).not.toThrow();
    let message = '';
    try {
      refuseQuality(report, ['blank', 'tiny', 'overlay', 'challenge', 'soft404', 'missingGlyphs']);
    } catch (error) {
      expect(error).toMatchObject({ name: 'PermanentFailure', code: 'quality_failed' });
      message = (error as Error).message;
    }
    expect(message).toMatch(
      /^quality checks named in qualityFail fired: blank \(one colour covers 100%, threshold 99\.9%\); tiny \(0\.\d+ bytes per pixel, threshold 0\.02\); /,
    );
    expect(message).toContain('overlay (div#wall covers 64% of the viewport, threshold 50%)');
    expect(message).toContain('challenge (recaptcha)');
    expect(message).toContain('soft404 (HTTP 200 but the page says "Oops, page not found")');
    expect(message).toContain('missingGlyphs (2 characters drawn as boxes, e.g. U+10FFFD U+F8FF)');
  });
});
