// The fonts Chromium renders with, from npm packages of TTF files (no system packages, no root):
// Noto Sans SC/TC/JP/KR for Chinese, Japanese and Korean, Noto Color Emoji, and Arimo, Tinos and
// Cousine, metric-compatible with Arial, Times New Roman and Courier New (the Liberation designs).
// @sparticuz/chromium ships Open Sans only. The worker writes one fonts.conf that lists exactly
// these files' directories, under node_modules both locally and on Lambda (serverless.yml packages
// the same directories into the worker), and maps the families pages ask for onto them. It does
// not read the machine's own fontconfig, so an image looks the same on every machine and on AWS.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { packageFile } from './package-file.js';

/** Package -> the weight directories used (Regular and Bold; italics for the Latin families). */
const PACKAGES: Record<string, string[]> = {
  '@expo-google-fonts/arimo': ['400Regular', '400Regular_Italic', '700Bold', '700Bold_Italic'],
  '@expo-google-fonts/tinos': ['400Regular', '400Regular_Italic', '700Bold', '700Bold_Italic'],
  '@expo-google-fonts/cousine': ['400Regular', '400Regular_Italic', '700Bold', '700Bold_Italic'],
  '@expo-google-fonts/noto-sans-sc': ['400Regular', '700Bold'],
  '@expo-google-fonts/noto-sans-tc': ['400Regular', '700Bold'],
  '@expo-google-fonts/noto-sans-jp': ['400Regular', '700Bold'],
  '@expo-google-fonts/noto-sans-kr': ['400Regular', '700Bold'],
  '@expo-google-fonts/noto-color-emoji': ['400Regular'],
};

/** The directories of font files, relative to the service root (what the worker's package carries). */
export const FONT_DIRS: string[] = Object.entries(PACKAGES).flatMap(([pkg, weights]) => weights.map((w) => join('node_modules', pkg, w)));

/** Families a page may name, and the font that stands in for each (as Debian's metric aliases do). */
const ALIASES: Record<string, string[]> = {
  Arial: ['Arimo'],
  Helvetica: ['Arimo'],
  'Liberation Sans': ['Arimo'],
  'sans-serif': ['Arimo', 'Noto Sans SC', 'Noto Sans TC', 'Noto Sans JP', 'Noto Sans KR'],
  'Times New Roman': ['Tinos'],
  Times: ['Tinos'],
  'Liberation Serif': ['Tinos'],
  serif: ['Tinos', 'Noto Sans SC', 'Noto Sans TC', 'Noto Sans JP', 'Noto Sans KR'],
  'Courier New': ['Cousine'],
  Courier: ['Cousine'],
  'Liberation Mono': ['Cousine'],
  monospace: ['Cousine', 'Noto Sans SC', 'Noto Sans TC', 'Noto Sans JP', 'Noto Sans KR'],
  emoji: ['Noto Color Emoji'],
};

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The fonts.conf: the npm font directories, Lambda's font directories (a layer's /opt/fonts, and
 * /tmp/fonts where sparticuz puts Open Sans) and the aliases; no system configuration.
 */
export function fontConfig(root?: string): string {
  const npmDirs = Object.entries(PACKAGES).flatMap(([pkg, weights]) => weights.map((w) => packageFile(pkg, w, root)));
  const dirs = [...npmDirs, '/var/task/fonts', '/opt/fonts', join(tmpdir(), 'fonts')];
  const aliases = Object.entries(ALIASES).map(
    ([family, prefer]) =>
      `  <alias binding="same"><family>${xml(family)}</family><prefer>${prefer.map((p) => `<family>${xml(p)}</family>`).join('')}</prefer></alias>`,
  );
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
    '<fontconfig>',
    ...dirs.map((d) => `  <dir>${xml(d)}</dir>`),
    ...aliases,
    `  <cachedir>${xml(join(tmpdir(), 'url2png-fontconfig-cache'))}</cachedir>`,
    '</fontconfig>',
    '',
  ].join('\n');
}

/**
 * Points the browsers this process launches (they inherit the environment) at fontConfig().
 * An operator's FONTCONFIG_PATH wins; sparticuz's own default on Lambda (<tmp>/fonts, Open Sans
 * only) does not.
 */
export function useBundledFonts(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FONTCONFIG_PATH && resolve(env.FONTCONFIG_PATH) !== join(tmpdir(), 'fonts')) return env.FONTCONFIG_PATH;
  const dir = join(tmpdir(), `url2png-fontconfig-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true });
  // Whole or not at all: another worker process may be starting a browser on this file right now.
  const next = join(dir, `fonts.conf.${process.pid}`);
  writeFileSync(next, fontConfig());
  renameSync(next, join(dir, 'fonts.conf'));
  env.FONTCONFIG_PATH = dir;
  return dir;
}
