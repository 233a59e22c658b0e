// Latin, CJK and colour emoji render as glyphs in the worker's own browser: the fonts Chromium
// used for each node, asked over CDP (not a pixel hash).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerRuntime } from '../../handlers/worker.js';
import { BUNDLED_FONTS_DIR } from '../../lib/fonts.js';
import type { LocalStack } from '../../local/stack.js';
import { servePages, type PageServer } from '../support/pages.js';
import { startTestStack } from '../support/stack.js';
import { imageSize } from '../support/images.js';
import { expectGlyphFonts, fontsUsed, GLYPH_PAGE } from './fonts.js';
import { shoot } from './shoot.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
  it('renders the page through the API, and its browser drew CJK and emoji with Noto, Latin with Liberation', async () => {
    const shot = await shoot(stack.apiUrl, { url: `${pages.origin}/glyphs`, width: 640, height: 200 });
    expect(imageSize(shot.bytes)).toEqual({ width: 640, height: 200 });

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

  it("the worker's fontconfig lists the service's ./fonts (what the Lambda package ships)", () => {
    const conf = readFileSync(join(process.env.FONTCONFIG_PATH!, 'fonts.conf'), 'utf8');
    expect(conf).toContain(`<dir>${BUNDLED_FONTS_DIR}</dir>`);
  });
});
