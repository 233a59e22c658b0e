// Proof that CJK and emoji render as glyphs, not as boxes in a fallback font, and Arial with its
// metric-compatible stand-in, read from the image the worker's own browser took: distinct
// characters give distinct pixels, none of them the missing-glyph box the page draws beside them
// (the control), emoji are in colour, and the page draws a bar as long as its own measured width
// of an Arial line, which must be Arimo's advance widths to the unit. (The packaged-browser test
// also asks that browser over CDP which fonts it used: fontsUsed.)
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'puppeteer-core';
import { decodePng } from '../support/images.js';

/** One character per 64x64 cell on row 0 (CJK of the four scripts, Latin, emoji), at 48 px. */
export const CELLS = ['中', '国', '漢', '字', 'か', 'カ', '한', '국', 'A', '😀', '🎉'] as const;
export const CELL = 64;

/** A character no font has (plane 16 private use): the cell beside the row shows the missing-glyph box. */
const TOFU = '\u{10FFFD}';
/** The line the page measures in Arial, at 2048 px: Arimo's 2048 units per em make that width its advance sum. */
const ARIAL_LINE = 'The quick brown fox';
const PROBE_PX = 2048;
/** The bar is the measured width divided by this (so it fits the image). */
const BAR_SCALE = 32;
const BAR = { left: CELL, top: CELL + 24, height: 16 };

export const GLYPH_PAGE = `<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; background: #fff; color: #000 }
.cell { display: inline-block; width: ${CELL}px; height: ${CELL}px; font-size: 48px; line-height: ${CELL}px; text-align: center; vertical-align: top }
#tofu { position: absolute; left: 0; top: ${CELL}px }
#probe { position: absolute; left: -100000px; top: 0; font: ${PROBE_PX}px Arial; font-kerning: none; font-variant-ligatures: none; white-space: pre }
#bar { position: absolute; left: ${BAR.left}px; top: ${BAR.top}px; height: ${BAR.height}px; width: 0; background: #000 }
#rest { position: absolute; top: ${2 * CELL}px; left: 0 }
</style></head><body>
<div id="cells">${CELLS.map((c) => `<span class="cell">${c}</span>`).join('')}</div>
<span id="tofu" class="cell">${TOFU}</span>
<span id="probe">${ARIAL_LINE}</span><div id="bar"></div>
<script>
  const bar = document.getElementById('bar');
  bar.style.width = Math.round(document.getElementById('probe').getBoundingClientRect().width / ${BAR_SCALE}) + 'px';
</script>
<div id="rest">
<p id="latin" style="font-family: Arial">The quick brown fox</p>
<p id="cjk">漢字かなカナ한국어中文</p>
<p id="emoji">😀🎉👍</p>
</div>
</body></html>`;

/** Advance widths from a TrueType file's own tables (cmap format 4, hmtx), in font units, with its units per em. */
function advances(ttf: Buffer, text: string): { units: number; unitsPerEm: number } {
  const tables = new Map<string, number>();
  for (let i = 0; i < ttf.readUInt16BE(4); i++) tables.set(ttf.toString('latin1', 12 + 16 * i, 16 + 16 * i), ttf.readUInt32BE(20 + 16 * i));
  const unitsPerEm = ttf.readUInt16BE(tables.get('head')! + 18);
  const metrics = ttf.readUInt16BE(tables.get('hhea')! + 34);
  const cmap = tables.get('cmap')!;
  let sub = -1;
  for (let i = 0; i < ttf.readUInt16BE(cmap + 2); i++) {
    const at = cmap + 4 + 8 * i;
    if (ttf.readUInt16BE(at) === 3 && ttf.readUInt16BE(at + 2) === 1) sub = cmap + ttf.readUInt32BE(at + 4);
  }
  if (sub < 0 || ttf.readUInt16BE(sub) !== 4) throw new Error('no Unicode BMP (format 4) cmap');
  const segs = ttf.readUInt16BE(sub + 6) / 2;
  const ends = sub + 14;
  const starts = ends + 2 * segs + 2;
  const deltas = starts + 2 * segs;
  const offsets = deltas + 2 * segs;
  const glyph = (c: number) => {
    for (let i = 0; i < segs; i++) {
      if (ttf.readUInt16BE(ends + 2 * i) < c) continue;
      const start = ttf.readUInt16BE(starts + 2 * i);
      if (start > c) return 0;
      const delta = ttf.readInt16BE(deltas + 2 * i);
      const offset = ttf.readUInt16BE(offsets + 2 * i);
      if (!offset) return (c + delta) & 0xffff;
      const g = ttf.readUInt16BE(offsets + 2 * i + offset + 2 * (c - start));
      return g ? (g + delta) & 0xffff : 0;
    }
    return 0;
  };
  const hmtx = tables.get('hmtx')!;
  let units = 0;
  for (const ch of text) units += ttf.readUInt16BE(hmtx + 4 * Math.min(glyph(ch.codePointAt(0)!), metrics - 1));
  return { units, unitsPerEm };
}

/** The bar GLYPH_PAGE must draw when Arial is Arimo: from the Arimo file itself, not from any browser. */
function expectedBar(): number {
  const arimo = readFileSync(resolve(import.meta.dirname, '../../node_modules/@expo-google-fonts/arimo/400Regular/Arimo_400Regular.ttf'));
  const { units, unitsPerEm } = advances(arimo, ARIAL_LINE);
  return Math.round((units * PROBE_PX) / unitsPerEm / BAR_SCALE);
}

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
  // The control: the missing-glyph box, drawn below the first cell. No character may look like it.
  const tofu: number[] = [];
  for (let y = CELL; y < 2 * CELL; y++) for (let x = 0; x < CELL; x++) tofu.push(...image.at(x, y));
  expect(
    CELLS.filter((_, i) => key(cells[i]!) === key(tofu)),
    'characters drawn as the missing-glyph box',
  ).toEqual([]);
  // The Arial line as the page measured it in this browser: Arimo's advances, to the unit.
  const row = BAR.top + BAR.height / 2;
  let bar = 0;
  while (BAR.left + bar < image.width && image.at(BAR.left + bar, row)[0] < 128) bar++;
  expect(bar, 'the Arial line measured in the page, / 32').toBe(expectedBar());
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
