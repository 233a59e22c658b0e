// extract and quality on real pages (127.0.0.1 fixtures, a real Chromium through the egress proxy):
// metadata exact for a page with Open Graph/Twitter tags and relative icon URLs, an article's
// Markdown with its headings, links and lists and without its navigation, and each quality check
// firing on its bad fixture while a clean control page stays quiet. The stack's end of it (the
// extracts document, the done status, qualityFail failing a job) is in tests/features/extract-api.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBundledFonts } from '../../lib/capture/fonts.js';
import { renderScreenshot } from '../../lib/capture/render.js';
import type { ScreenshotOptionsInput } from '../../lib/contract/request.js';
import { startRenderHarness, type RenderHarness } from '../../fixtures/render-harness.js';
import { FIXTURES } from './page-fixtures.js';
import { servePages, type PageServer } from '../../fixtures/pages.js';

let pages: PageServer;
let harness: RenderHarness;

beforeAll(async () => {
  useBundledFonts(); // the worker's fonts (CJK among them), as in the worker
  pages = await servePages(FIXTURES);
  harness = await startRenderHarness([pages.hostPort], 'findings');
});

afterAll(async () => {
  await harness?.close();
  await pages?.close();
});

const render = (path: string, options: ScreenshotOptionsInput = {}) =>
  renderScreenshot(
    { url: `${pages.origin}${path}`, options },
    { browsers: harness.host, guard: harness.guard, proxy: harness.proxy },
    { timeoutMs: 30_000, loadTimeoutMs: 15_000 },
  );

describe('extract', () => {
  it('metadata: title, description, lang, canonical, Open Graph and Twitter fields, icons made absolute, final URL, status, content type', async () => {
    const shot = await render('/meta', { extract: ['metadata'] });
    const o = pages.origin;
    expect(shot.extracts).toEqual({
      metadata: {
        title: 'Fixture — metadata',
        description: 'A page that says everything about itself.',
        lang: 'en-GB',
        canonical: `${o}/articles/meta`,
        openGraph: {
          title: 'OG title',
          description: 'OG description',
          image: `${o}/img/card.png`,
          url: `${o}/articles/meta`,
          type: 'article',
          site_name: 'Fixtures',
        },
        twitter: { card: 'summary_large_image', site: '@fixtures', title: 'Twitter title', image: 'https://cdn.example/tw.png' },
        favicon: `${o}/icons/favicon-32.png`,
        appleTouchIcon: `${o}/icons/apple-touch.png`,
        finalUrl: `${o}/meta`,
        httpStatus: 200,
        contentType: 'text/html; charset=utf-8',
      },
    });
  });

  it('markdown: the article with its headings, links and lists; the navigation, header and footer dropped', async () => {
    const shot = await render('/article', { extract: ['markdown', 'text', 'html'] });
    const md = shot.extracts!.markdown!;
    expect(md).toMatch(/^# How to keep bees in a city$/m);
    expect(md).toMatch(/^## Choosing a hive$/m);
    expect(md).toMatch(/^## Feeding through winter$/m);
    expect(md).toContain(`[the beekeepers' association](${pages.origin}/assoc)`);
    expect(md).toMatch(/^-\s+A flat roof with shelter from the wind$/m);
    expect(md).toMatch(/^-\s+Water within a hundred metres$/m);
    expect(md).toMatch(/^1\.\s+Sugar syrup in autumn$/m);
    for (const nav of ['Home page link', 'Subscribe today', 'Copyright fixture footer']) expect(md).not.toContain(nav);
    // text is what a visitor sees (innerText); html is the serialised DOM, scripts' changes included.
    expect(shot.extracts!.text).toContain('How to keep bees in a city');
    expect(shot.extracts!.text).not.toContain('display-none text');
    expect(shot.extracts!.html).toMatch(/^<!DOCTYPE html>\n<html/);
    expect(shot.extracts!.html).toContain('data-added-by-script="yes"');
    expect(shot.extracts!.truncated).toBeUndefined();
  });

  it('markdown on a page that enforces Trusted Types: still its content and headings', async () => {
    const md = (await render('/trusted-types', { extract: ['markdown'] })).extracts!.markdown!;
    expect(md).toMatch(/^# Typed page$/m);
    expect(md).toMatch(/^## Second part$/m);
    expect(md).toContain('Paragraph 4 about types');
  });

  it('nothing is extracted unless asked', async () => {
    const shot = await render('/meta');
    expect(shot.extracts).toBeUndefined();
  });
});

describe('quality', () => {
  it('the clean control page raises no flag, and every check reports its numbers', async () => {
    const shot = await render('/clean');
    expect(shot.quality!.flags).toEqual([]);
    const c = shot.quality!.checks;
    expect(c.blank!.dominantShare).toBeLessThan(c.blank!.threshold);
    expect(c.tiny!.bytesPerPixel).toBeGreaterThan(c.tiny!.threshold);
    expect(c.overlay.coveredShare).toBeLessThan(c.overlay.threshold);
    expect(c.challenge.markers).toEqual([]);
    expect(c.soft404).toEqual({ flagged: false, httpStatus: 200 });
    expect(c.missingGlyphs.checked).toBeGreaterThan(5); // its accented letters, dashes and CJK were looked at
    expect(c.missingGlyphs.missing).toBe(0);
  });

  it.each([
    ['/blank', 'blank'],
    ['/modal', 'overlay'],
    ['/challenge', 'challenge'],
    ['/captcha', 'challenge'],
    ['/soft404', 'soft404'],
    ['/tofu', 'missingGlyphs'],
  ] as const)('%s raises %s', async (path, flag) => {
    const shot = await render(path);
    expect(shot.quality!.flags, JSON.stringify(shot.quality)).toContain(flag);
  });

  it.each(['png', 'jpeg', 'webp'] as const)(
    'an empty page is tiny in %s too, and sparse pages are neither tiny nor blank',
    async (format) => {
      const empty = await render('/blank', { format });
      expect(empty.quality!.flags).toEqual(['blank', 'tiny']);
      expect(empty.quality!.checks.tiny!.bytes).toBe(empty.bytes.byteLength);
      for (const sparse of ['/soft404', '/tofu']) {
        const { quality } = await render(sparse, { format });
        expect(quality!.flags, JSON.stringify(quality)).not.toContain('tiny');
        expect(quality!.flags).not.toContain('blank');
      }
    },
  );

  it('reports numbers: the overlay element and its share, the challenge markers, the soft 404 heading, the boxes', async () => {
    const modal = (await render('/modal')).quality!.checks.overlay;
    expect(modal.coveredShare).toBeGreaterThanOrEqual(0.9);
    expect(modal.element).toBe('div#consent-backdrop.backdrop');
    expect((await render('/challenge')).quality!.checks.challenge.markers).toEqual(['title: Just a moment...', 'cloudflare challenge']);
    expect((await render('/soft404')).quality!.checks.soft404).toEqual({
      flagged: true,
      httpStatus: 200,
      matched: 'Page not found | Fixtures',
    });
    const glyphs = (await render('/tofu')).quality!.checks.missingGlyphs;
    expect(glyphs.examples).toEqual(['U+10FFFD', 'U+F8FF']);
  });

  it('a real 404 is no soft 404, and a CAPTCHA widget on a page with content is no challenge', async () => {
    expect((await render('/missing')).quality!.checks.soft404.flagged).toBe(false);
    expect((await render('/contact')).quality!.flags).not.toContain('challenge');
  });

  it('qualityChecks: false runs no check: no report, even on a blank page', async () => {
    const shot = await render('/blank', { qualityChecks: false });
    expect(shot.quality).toBeUndefined();
    expect(shot.bytes.byteLength).toBeGreaterThan(0);
  });

  it('qualityFail fails the capture quality_failed, naming the checks and their numbers', async () => {
    await expect(render('/modal', { qualityFail: ['overlay', 'blank'] })).rejects.toMatchObject({
      name: 'PermanentFailure',
      code: 'quality_failed',
      message: expect.stringMatching(/overlay \(div#consent-backdrop\.backdrop covers \d+(\.\d)?% of the viewport, threshold 50%\)/),
    });
    // A flag not named does not fail it.
    await expect(render('/modal', { qualityFail: ['blank'] })).resolves.toMatchObject({ quality: { flags: ['overlay'] } });
  });
});
