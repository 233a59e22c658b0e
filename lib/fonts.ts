// Where Chromium finds its fonts. @sparticuz/chromium ships Open Sans only; the service ships
// Noto Sans CJK, Noto Color Emoji and Liberation in ./fonts (.ci/install-fonts), packaged with the
// worker. On Lambda they are /var/task/fonts and sparticuz's own fonts.conf (FONTCONFIG_PATH=
// /tmp/fonts, set when it is imported on Lambda) already lists that directory. Elsewhere nothing
// points fontconfig at ./fonts, so this writes a fonts.conf that adds it to the system's fonts.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** ./fonts of the service: <root>/fonts from lib/ (tsx) and from handlers/ (the bundle) alike. */
export const BUNDLED_FONTS_DIR = resolve(import.meta.dirname, '..', 'fonts');

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The fonts.conf for a machine that is not Lambda: system fonts, ./fonts and Lambda's font dirs. */
function localFontConfig(fontsDir = BUNDLED_FONTS_DIR): string {
  const dirs = [fontsDir, '/var/task/fonts', '/opt/fonts', join(tmpdir(), 'fonts')];
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
    '<fontconfig>',
    '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>',
    ...dirs.map((d) => `  <dir>${xml(d)}</dir>`),
    `  <cachedir>${xml(join(tmpdir(), 'url2png-fontconfig-cache'))}</cachedir>`,
    '</fontconfig>',
    '',
  ].join('\n');
}

/**
 * Points the browsers this process launches at ./fonts (they inherit the environment). Leaves an
 * existing FONTCONFIG_PATH alone: on Lambda sparticuz set it, and an operator's choice wins.
 */
export function useBundledFonts(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FONTCONFIG_PATH) return env.FONTCONFIG_PATH;
  if (!existsSync(BUNDLED_FONTS_DIR)) return undefined; // system fonts only (run .ci/install-fonts)
  const dir = join(tmpdir(), `url2png-fontconfig-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'fonts.conf'), localFontConfig());
  env.FONTCONFIG_PATH = dir;
  return dir;
}
