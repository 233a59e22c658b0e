// Latin, CJK and colour emoji render as glyphs in the worker's own browser (the local stack's
// worker process and the Chromium it started): proven by the shot it took through the API, which
// carries its own control (the missing-glyph box) and the page's own measure of an Arial line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FONT_DIRS } from '../../lib/capture/fonts.js';
import type { LocalStack } from '../../local/stack.js';
import { servePages, type PageServer } from '../../fixtures/pages.js';
import { startTestStack } from '../support/stack.js';
import { imageSize } from '../support/images.js';
import { CELL, CELLS, expectGlyphPixels, GLYPH_PAGE } from './fonts.js';
import { shoot } from './shoot.js';
import { workerBrowserPid } from '../reliability/harness.js';
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
  it('the shot the worker took: every CJK character and emoji a glyph (distinct, none the missing-glyph box), emoji in colour, Arial measured with Arimo metrics', async () => {
    const width = CELLS.length * CELL;
    const shot = await shoot(stack.apiUrl, { url: `${pages.origin}/glyphs`, width, height: 200 });
    expect(imageSize(shot.bytes)).toEqual({ width, height: 200 });
    expectGlyphPixels(shot.bytes, expect);
  });

  it("the fontconfig of the browser that took the shot is the npm fonts only: the machine's fonts (Debian packages or none) play no part", () => {
    // The worker process's Chromium (the browser itself, not a helper), and the environment it runs with.
    const browser = workerBrowserPid(stack);
    expect(browser, 'the worker has a browser').toBeDefined();
    const environ = readFileSync(`/proc/${browser!}/environ`, 'utf8').split('\0');
    const fontconfig = environ.find((v) => v.startsWith('FONTCONFIG_PATH='))?.slice('FONTCONFIG_PATH='.length);
    expect(fontconfig, 'FONTCONFIG_PATH of the worker browser').toBeDefined();
    const conf = readFileSync(join(fontconfig!, 'fonts.conf'), 'utf8');
    for (const dir of FONT_DIRS) expect(conf).toContain(`${join(ROOT, dir)}</dir>`);
    // No <include> of /etc/fonts and no system font directory: what renders above came from npm.
    expect(conf).not.toMatch(/<include|\/usr\/share\/fonts|\/etc\/fonts|~\/\.fonts/);
  });
});
