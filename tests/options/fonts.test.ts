// Latin, CJK and colour emoji render as glyphs in the worker's own browser: the fonts Chromium
// used for each node, asked over CDP (not a pixel hash).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerRuntime } from '../../handlers/worker.js';
import { FONT_DIRS } from '../../lib/fonts.js';
import type { LocalStack } from '../../local/stack.js';
import { servePages, type PageServer } from '../support/pages.js';
import { startTestStack } from '../support/stack.js';
import { imageSize } from '../support/images.js';
import { CELL, CELLS, expectGlyphFonts, expectGlyphPixels, fontsUsed, GLYPH_PAGE } from './fonts.js';
import { shoot } from './shoot.js';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

let pages: PageServer;
let stack: LocalStack;

beforeAll(async () => {
  pages = await servePages({ '/glyphs': GLYPH_PAGE });
  stack = await startTestStack({ allow: [pages.hostPort] });
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
});

describe('fonts in the local worker', () => {
  it('renders the page through the API with real glyphs (distinct CJK pixels, colour emoji); Noto for CJK and emoji, Arimo for Arial', async () => {
    const width = CELLS.length * CELL;
    const shot = await shoot(stack.apiUrl, { url: `${pages.origin}/glyphs`, width, height: 200 });
    expect(imageSize(shot.bytes)).toEqual({ width, height: 200 });
    expectGlyphPixels(shot.bytes, expect);

    // The very browser the worker rendered with (same process, same launch, same environment).
    const runtime = await workerRuntime();
    const browser = await runtime.browsers.get();
    const context = await browser.createBrowserContext();
    try {
      const page = await context.newPage();
      await page.goto(`${pages.origin}/glyphs`, { waitUntil: 'load' });
      expectGlyphFonts(await fontsUsed(page, ['latin', 'cjk', 'emoji']), expect);
    } finally {
      await context.close();
    }
  });

  it("the worker's fontconfig is the npm fonts only: the machine's fonts (Debian packages or none) play no part", () => {
    const conf = readFileSync(join(process.env.FONTCONFIG_PATH!, 'fonts.conf'), 'utf8');
    for (const dir of FONT_DIRS) expect(conf).toContain(`${join(ROOT, dir)}</dir>`);
    // No <include> of /etc/fonts and no system font directory: what renders above came from npm.
    expect(conf).not.toMatch(/<include|\/usr\/share\/fonts|\/etc\/fonts|~\/\.fonts/);
  });
});
