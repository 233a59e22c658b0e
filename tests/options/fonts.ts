// Proof that CJK and emoji render as glyphs, not as boxes in a fallback font: which fonts Chromium
// used for each node (CDP CSS.getPlatformFontsForNode), and the pixels themselves (distinct
// characters give distinct images; emoji are in colour).
import type { Page } from 'puppeteer-core';
import { decodePng } from '../support/images.js';

/** One character per 64x64 cell on row 0 (CJK of the four scripts, Latin, emoji), at 48 px. */
export const CELLS = ['中', '国', '漢', '字', 'か', 'カ', '한', '국', 'A', '😀', '🎉'] as const;
export const CELL = 64;

export const GLYPH_PAGE = `<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; background: #fff; color: #000 }
#cells span { display: inline-block; width: ${CELL}px; height: ${CELL}px; font-size: 48px; line-height: ${CELL}px; text-align: center; vertical-align: top }
</style></head><body>
<div id="cells">${CELLS.map((c) => `<span>${c}</span>`).join('')}</div>
<p id="latin" style="font-family: Arial">The quick brown fox</p>
<p id="cjk">漢字かなカナ한국어中文</p>
<p id="emoji">😀🎉👍</p>
</body></html>`;

export type UsedFont = { familyName: string; glyphCount: number };

export async function fontsUsed(page: Page, ids: string[]): Promise<Record<string, UsedFont[]>> {
  const cdp = await page.createCDPSession();
  await cdp.send('DOM.enable');
  await cdp.send('CSS.enable');
  const { root } = await cdp.send('DOM.getDocument');
  const out: Record<string, UsedFont[]> = {};
  for (const id of ids) {
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: `#${id} ` });
    // The text node carries the platform fonts; its element answers for it as well.
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
    out[id] = fonts.map((f) => ({ familyName: f.familyName, glyphCount: f.glyphCount }));
  }
  await cdp.detach();
  return out;
}

/** The assertions on the fonts used that every fonts test makes. */
export function expectGlyphFonts(used: Record<string, UsedFont[]>, expect: typeof import('vitest').expect): void {
  // Arial is drawn with its metric-compatible stand-in.
  expect(used.latin!.map((f) => f.familyName)).toEqual(['Arimo']);
  // Every CJK and emoji glyph comes from a font that has it: no Open Sans (tofu) anywhere.
  expect(used.cjk!.map((f) => f.familyName).filter((n) => !/^Noto Sans (SC|TC|JP|KR)$/.test(n))).toEqual([]);
  expect(used.cjk!.reduce((n, f) => n + f.glyphCount, 0)).toBe(11); // 漢字かなカナ한국어中文
  expect(used.emoji!).toEqual([{ familyName: 'Noto Color Emoji', glyphCount: 3 }]);
}

/** The assertions on the pixels of GLYPH_PAGE's cells (a PNG of the page's top-left corner). */
export function expectGlyphPixels(png: Uint8Array, expect: typeof import('vitest').expect): void {
  const image = decodePng(png);
  const cell = (i: number) => {
    const px: number[] = [];
    for (let y = 0; y < CELL; y++) for (let x = i * CELL; x < (i + 1) * CELL; x++) px.push(...image.at(x, y));
    return px;
  };
  const cells = CELLS.map((_, i) => cell(i));
  const key = (px: number[]) => px.map((v) => (v < 128 ? 0 : 1)).join('');
  // Every character drew something, and no two characters drew the same thing (boxes would).
  for (const [i, px] of cells.entries())
    expect(
      px.some((v) => v < 128),
      `cell ${CELLS[i]} is blank`,
    ).toBe(true);
  expect(new Set(cells.map(key)).size).toBe(CELLS.length);
  // Text is black on white: only the emoji may be in colour, and they are.
  const colourful = (px: number[]) => {
    let n = 0;
    for (let i = 0; i < px.length; i += 3)
      if (Math.max(px[i]!, px[i + 1]!, px[i + 2]!) - Math.min(px[i]!, px[i + 1]!, px[i + 2]!) > 80) n++;
    return n;
  };
  CELLS.forEach((c, i) => {
    if (/\p{Extended_Pictographic}/u.test(c)) expect(colourful(cells[i]!), `${c} is not in colour`).toBeGreaterThan(200);
    else expect(colourful(cells[i]!), `${c} is coloured`).toBeLessThan(20);
  });
}
