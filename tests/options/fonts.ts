// Which fonts Chromium actually used for a node (CDP CSS.getPlatformFontsForNode): the proof that
// CJK and emoji rendered as glyphs, not as boxes in a fallback font.
import type { Page } from 'puppeteer-core';

export const GLYPH_PAGE = `<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<p id="latin" style="font-family:'Liberation Sans'">The quick brown fox</p>
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

/** The assertions both fonts tests make. */
export function expectGlyphFonts(used: Record<string, UsedFont[]>, expect: typeof import('vitest').expect): void {
  expect(used.latin!.map((f) => f.familyName)).toEqual(['Liberation Sans']);
  // Every CJK and emoji glyph comes from a font that has it: no Open Sans (tofu) anywhere.
  expect(used.cjk!.map((f) => f.familyName).filter((n) => !/^Noto (Sans|Serif) CJK/.test(n))).toEqual([]);
  expect(used.cjk!.reduce((n, f) => n + f.glyphCount, 0)).toBe(11); // 漢字かなカナ한국어中文
  expect(used.emoji!).toEqual([{ familyName: 'Noto Color Emoji', glyphCount: 3 }]);
}
