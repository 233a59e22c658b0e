// The Lambda package carries the npm fonts (every directory lib/capture/fonts.ts lists), stays under
// Lambda's limits, and those very font files give real glyphs under the fontconfig the worker writes
// on Lambda (lib/capture/fonts.ts with /var/task as the root); sparticuz's own (Open Sans only) gives boxes.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import chromium from '@sparticuz/chromium';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageService, type PackagedService } from '../../fixtures/serverless.js';
import { fontConfig, FONT_DIRS } from '../../lib/capture/fonts.js';
import { CELL, CELLS, expectGlyphFonts, expectGlyphPixels, fontsUsed, GLYPH_PAGE } from './fonts.js';
import { readZip, type ZipEntry } from './zip.js';

const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;
const FONT = /^node_modules\/@expo-google-fonts\/[^/]+\/[^/]+\/[^/]+\.ttf$/;
const ROOT = join(import.meta.dirname, '../..');

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
function sparticuzFontConfig(taskRoot: string): string {
  const dir = mkdtempSync(join(scratch, 'fc-'));
  const original = readFileSync(join(tmpdir(), 'fonts', 'fonts.conf'), 'utf8');
  expect(original).toContain('<dir>/var/task/fonts</dir>');
  const conf = original
    .replaceAll('/var/task/', `${taskRoot}/`)
    .replace(/<cachedir>[^<]*<\/cachedir>/, `<cachedir>${dir}/cache</cachedir>`);
  writeFileSync(join(dir, 'fonts.conf'), conf);
  return dir;
}

/** The worker's own fonts.conf (lib/capture/fonts.ts) as it is on Lambda, with `taskRoot` for /var/task. */
function workerFontConfig(taskRoot: string): string {
  const dir = mkdtempSync(join(scratch, 'fc-'));
  writeFileSync(join(dir, 'fonts.conf'), fontConfig(taskRoot).replace(/<cachedir>[^<]*<\/cachedir>/, `<cachedir>${dir}/cache</cachedir>`));
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
    await page.setViewport({ width: CELLS.length * CELL, height: 200 });
    await page.setContent(GLYPH_PAGE, { waitUntil: 'load' });
    return { used: await fontsUsed(page, ['latin', 'cjk', 'emoji']), png: await page.screenshot({ type: 'png' }) };
  } finally {
    await browser.close();
  }
}

describe('fonts in the Lambda package', () => {
  it('the worker zip carries every font directory lib/capture/fonts.ts lists, whole; the API zip carries none', () => {
    const fonts = worker.filter((e) => FONT.test(e.name)).map((e) => e.name);
    const expected = FONT_DIRS.flatMap((d) =>
      readdirSync(join(ROOT, d))
        .filter((f) => f.endsWith('.ttf'))
        .map((f) => join(d, f)),
    );
    expect(expected.length).toBeGreaterThanOrEqual(FONT_DIRS.length);
    expect(fonts.sort()).toEqual(expected.sort());
    expect(api.filter((e) => e.name.includes('@expo-google-fonts'))).toEqual([]);
  });

  it('the worker zip carries sharp (external) with its linux-x64 native binaries; the API zip carries none', () => {
    const names = worker.map((e) => e.name);
    expect(names).toContain('node_modules/sharp/package.json');
    expect(names.some((n) => /^node_modules\/@img\/sharp-linux-x64\/lib\/sharp-linux-x64\.node$/.test(n))).toBe(true);
    expect(names.some((n) => /^node_modules\/@img\/sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/.test(n))).toBe(true);
    expect(api.some((e) => e.name.includes('sharp'))).toBe(false);
  });

  it('the worker zip carries the package files lib/capture/blocking.ts, consent.ts and page-findings.ts read at run time, byte for byte; the API zip none', () => {
    const lists = [
      'node_modules/@ghostery/trackerdb/dist/trackerdb.txt',
      'node_modules/@duckduckgo/autoconsent/dist/autoconsent.playwright.js',
      'node_modules/@duckduckgo/autoconsent/rules/compact-rules.json',
      // extract "markdown" evaluates Readability's source in the page (lib/capture/page-findings.ts).
      'node_modules/@mozilla/readability/Readability.js',
    ];
    for (const list of lists) {
      const entry = worker.find((e) => e.name === list);
      expect(entry, list).toBeDefined();
      expect(entry!.read().equals(readFileSync(join(ROOT, list))), list).toBe(true);
    }
    expect(api.filter((e) => /@ghostery|@duckduckgo|@mozilla/.test(e.name))).toEqual([]);
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

  it("the packaged font files give real glyphs under the worker's Lambda fontconfig; under sparticuz's alone, Open Sans boxes", async () => {
    const task = join(scratch, 'task'); // stands in for /var/task
    for (const entry of worker.filter((e) => FONT.test(e.name))) {
      mkdirSync(dirname(join(task, entry.name)), { recursive: true });
      writeFileSync(join(task, entry.name), entry.read());
    }
    const packaged = await fontsUnder(workerFontConfig(task));
    expectGlyphFonts(packaged.used, expect);
    expectGlyphPixels(packaged.png, expect);

    // The control: what sparticuz configures by itself on Lambda falls back to Open Sans.
    const bare = join(scratch, 'bare');
    mkdirSync(join(bare, 'fonts'), { recursive: true });
    const without = await fontsUnder(sparticuzFontConfig(bare));
    expect(without.used.cjk!.map((f) => f.familyName)).toEqual(['Open Sans']);
    expect(without.used.emoji!.map((f) => f.familyName)).toEqual(['Open Sans']);
  }, 60_000);
});
