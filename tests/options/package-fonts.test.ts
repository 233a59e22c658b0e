// The Lambda package carries the fonts, stays under Lambda's limits, and those very font files
// give real glyphs under the fontconfig @sparticuz/chromium uses on Lambda (FONTCONFIG_PATH=/tmp/fonts,
// whose fonts.conf lists /var/task/fonts: the package's ./fonts).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import chromium from '@sparticuz/chromium';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageService, type PackagedService } from '../support/serverless.js';
import { expectGlyphFonts, fontsUsed, GLYPH_PAGE } from './fonts.js';
import { readZip, type ZipEntry } from './zip.js';

const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;
const FONT = /^fonts\/[^/]+\.(ttf|ttc|otf)$/;

let pkg: PackagedService;
let worker: ZipEntry[];
let api: ZipEntry[];
const scratch = mkdtempSync(join(tmpdir(), 'url2png-fonts-test-'));

beforeAll(async () => {
  pkg = await packageService('prod');
  worker = readZip(join(pkg.dir, '.serverless', 'worker.zip'));
  api = readZip(join(pkg.dir, '.serverless', 'api.zip'));
}, 240_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** sparticuz's Lambda fonts.conf with /var/task moved to `taskRoot` (and a private cache dir). */
function lambdaFontConfig(taskRoot: string): string {
  const dir = mkdtempSync(join(scratch, 'fc-'));
  const original = readFileSync(join(tmpdir(), 'fonts', 'fonts.conf'), 'utf8');
  expect(original).toContain('<dir>/var/task/fonts</dir>');
  const conf = original.replaceAll('/var/task/', `${taskRoot}/`).replace(/<cachedir>[^<]*<\/cachedir>/, `<cachedir>${dir}/cache</cachedir>`);
  writeFileSync(join(dir, 'fonts.conf'), conf);
  return dir;
}

async function fontsUnder(fontconfigPath: string) {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH || (await chromium.executablePath()),
    headless: 'shell',
    pipe: true,
    args: ['--no-sandbox', '--disable-gpu', '--font-render-hinting=none'],
    env: { ...process.env, FONTCONFIG_PATH: fontconfigPath },
  });
  try {
    const page = await browser.newPage();
    await page.setContent(GLYPH_PAGE, { waitUntil: 'load' });
    return await fontsUsed(page, ['latin', 'cjk', 'emoji']);
  } finally {
    await browser.close();
  }
}

describe('fonts in the Lambda package', () => {
  it('the worker zip carries Noto CJK, Noto Color Emoji and Liberation; the API zip carries none', () => {
    const fonts = worker.filter((e) => FONT.test(e.name)).map((e) => e.name);
    expect(fonts).toEqual(expect.arrayContaining(['fonts/NotoSansCJK-Regular.ttc', 'fonts/NotoColorEmoji.ttf', 'fonts/LiberationSans-Regular.ttf']));
    expect(api.filter((e) => e.name.startsWith('fonts/'))).toEqual([]);
  });

  it("stays under Lambda's 250 MB unzipped limit (sizes reported)", () => {
    const unzipped = (entries: ZipEntry[]) => entries.reduce((n, e) => n + e.size, 0);
    const fontEntries = worker.filter((e) => FONT.test(e.name));
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    console.log(
      `package sizes: worker.zip ${mb(pkg.artifacts['worker.zip']!)} zipped, ${mb(unzipped(worker))} unzipped ` +
        `(fonts ${mb(unzipped(fontEntries))} unzipped, ${mb(fontEntries.reduce((n, e) => n + e.compressedSize, 0))} zipped); ` +
        `api.zip ${mb(pkg.artifacts['api.zip']!)} zipped, ${mb(unzipped(api))} unzipped`,
    );
    expect(unzipped(worker)).toBeLessThan(LAMBDA_UNZIPPED_LIMIT);
    expect(unzipped(api)).toBeLessThan(LAMBDA_UNZIPPED_LIMIT);
  });

  it("the packaged font files give real glyphs under sparticuz's Lambda fontconfig; without them, Open Sans boxes", async () => {
    const task = join(scratch, 'task'); // stands in for /var/task
    for (const entry of worker.filter((e) => FONT.test(e.name))) {
      mkdirSync(dirname(join(task, entry.name)), { recursive: true });
      writeFileSync(join(task, entry.name), entry.read());
    }
    expectGlyphFonts(await fontsUnder(lambdaFontConfig(task)), expect);

    // The control: the same Lambda config with an empty /var/task/fonts falls back to Open Sans.
    const bare = join(scratch, 'bare');
    mkdirSync(join(bare, 'fonts'), { recursive: true });
    const without = await fontsUnder(lambdaFontConfig(bare));
    expect(without.cjk!.map((f) => f.familyName)).toEqual(['Open Sans']);
    expect(without.emoji!.map((f) => f.familyName)).toEqual(['Open Sans']);
  }, 60_000);
});
