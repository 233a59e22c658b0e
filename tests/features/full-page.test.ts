// fullPage past Chromium's 16384 px single-capture limit: captured in slices and stitched (sharp),
// through the HTTP API of the local stack (real emulator, worker and Chromium).
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';

const HEIGHT = 40_000;
// Bands 8 px tall straddling each slice boundary (16384 and 32768 at deviceScaleFactor 1), and a
// red band as the page's very last rows: any lost, doubled or shifted slice moves or cuts one.
const bands = [
  { top: 16_380, colour: [0, 255, 0] },
  { top: 32_764, colour: [0, 0, 255] },
  { top: HEIGHT - 8, colour: [255, 0, 0] },
] as const;

const DPR_HEIGHT = 20_000;
const DPR_BANDS = [
  { top: 8188, colour: [0, 255, 0] },
  { top: 10_918, colour: [0, 0, 255] },
  { top: 16_380, colour: [255, 0, 255] },
  { top: DPR_HEIGHT - 8, colour: [255, 0, 0] },
] as const;

/** A done full page's image, its rows readable at x = width / 2. */
async function fullPage(body: Record<string, unknown>) {
  const { json } = await postScreenshot(stack.apiUrl, { ...body, fullPage: true });
  const status = await waitForSettled(String(json.statusUrl), 100_000);
  expect(status.status, JSON.stringify(status)).toBe('done');
  const bytes = new Uint8Array(await (await fetch(status.imageUrl!)).arrayBuffer());
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const x = Math.floor(info.width / 2);
  const row = (y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  return { status, width: info.width, height: info.height, row };
}

let pages: PageServer;
let stack: LocalStack;

beforeAll(async () => {
  const band = ({ top, colour }: { top: number; colour: readonly number[] }) =>
    `<div style="position:absolute;left:0;top:${top}px;width:100%;height:8px;background:rgb(${colour.join(',')})"></div>`;
  pages = await servePages({
    '/tall': html(`<div style="position:relative;height:${HEIGHT}px;background:#fff">${bands.map(band).join('')}</div>`),
    // At deviceScaleFactor 2 slices are 8192 CSS px, at 1.5 10922: bands straddle those seams.
    '/tall-dpr': html(`<div style="position:relative;height:${DPR_HEIGHT}px;background:#fff">${DPR_BANDS.map(band).join('')}</div>`),
    // Taller than the 65535 image px a full page may have: cut there, a band in its last rows.
    '/too-tall': html(`<div style="position:relative;height:70000px;background:#fff">${band({ top: 65_527, colour: [255, 0, 0] })}</div>`),
  });
  stack = await startTestStack({ allow: [pages.hostPort], env: { URL2PNG_RENDER_TIMEOUT_MS: '45000' } });
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
});

describe('fullPage taller than one capture', () => {
  it('a 40000 px page comes back whole: every band where the page has it, its last rows last', async () => {
    // A 32-megapixel capture: the one slow case of this file (about 5 s on an idle 2-core machine).
    const { json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/tall`, width: 800, height: 2000, fullPage: true });
    const status = await waitForSettled(String(json.statusUrl), 100_000);
    expect(status.status, JSON.stringify(status)).toBe('done');
    expect(status).not.toHaveProperty('truncated');
    const bytes = new Uint8Array(await (await fetch(status.imageUrl!)).arrayBuffer());
    const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect({ width: info.width, height: info.height }).toEqual({ width: 800, height: HEIGHT });
    const row = (y: number) => [...data.subarray(y * info.width * 3 + 400 * 3, y * info.width * 3 + 400 * 3 + 3)];
    for (const { top, colour } of bands) {
      expect(row(top - 1), `row ${top - 1}`).toEqual([255, 255, 255]);
      for (let y = top; y < top + 8; y++) expect(row(y), `row ${y}`).toEqual([...colour]);
      if (top + 8 < HEIGHT) expect(row(top + 8), `row ${top + 8}`).toEqual([255, 255, 255]);
    }
  }, 120_000);

  it.each([2, 1.5])(
    'deviceScaleFactor %s: every seam in place, each band exactly where the page has it',
    async (dsf) => {
      const shot = await fullPage({ url: `${pages.origin}/tall-dpr`, width: 400, height: 1000, deviceScaleFactor: dsf });
      expect(shot.status).not.toHaveProperty('truncated');
      expect({ width: shot.width, height: shot.height }).toEqual({ width: 400 * dsf, height: DPR_HEIGHT * dsf });
      for (const { top, colour } of DPR_BANDS) {
        const [first, last] = [top * dsf, (top + 8) * dsf - 1];
        expect(shot.row(first - 1), `row ${first - 1}`).toEqual([255, 255, 255]);
        for (let y = first; y <= last; y++) expect(shot.row(y), `row ${y}`).toEqual([...colour]);
        if (last + 1 < shot.height) expect(shot.row(last + 1), `row ${last + 1}`).toEqual([255, 255, 255]);
      }
    },
    120_000,
  );

  it('a page past 65535 image px is cut there and says truncated: true (stitched, its last rows the page rows at the cut)', async () => {
    const shot = await fullPage({ url: `${pages.origin}/too-tall`, width: 320, height: 1000 });
    expect(shot.status).toMatchObject({ truncated: true });
    expect({ width: shot.width, height: shot.height }).toEqual({ width: 320, height: 65_535 });
    expect(shot.row(65_526)).toEqual([255, 255, 255]);
    for (let y = 65_527; y < 65_535; y++) expect(shot.row(y), `row ${y}`).toEqual([255, 0, 0]);
  }, 120_000);
});
