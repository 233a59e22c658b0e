// What the page itself says, read from the page the image shows (after the waits, the caller's
// scripts and the capture): the `extract` kinds the request asked for, and the raw facts the quality
// checks judge (lib/capture/quality.ts). One page.evaluate for all of it: each probe is a snippet of
// page JavaScript (strings, as this project compiles without the DOM's types), run one after the
// other in the page; bench/quality-cost.ts times each on its own.
import { readFileSync } from 'node:fs';
import type { HTTPResponse, Page } from 'puppeteer-core';
import type TurndownService from 'turndown';
import { packageFile } from './package-file.js';
import { EXTRACT_CAPS, type ExtractKind, type ExtractsDocument, type PageMetadata } from '../contract/findings.js';

/** How many grid points (per side) the overlay probe asks elementFromPoint about. */
const OVERLAY_GRID = 10;
/** The missing-glyph probe checks at most this many distinct non-ASCII characters, from this many text nodes. */
const GLYPH_PROBE_LIMITS = { characters: 400, textNodes: 5000 } as const;
/** A CAPTCHA widget counts as a challenge page only when the page has less visible text than this. */
export const CAPTCHA_PAGE_TEXT = 1000;

/** In-page snippets; each is the body of an async function with `out` and `want` in scope. */
export const PROBES = {
  /** The largest share of a grid of viewport points one fixed element or dialog is on top at. */
  overlay: `{
    const n = ${OVERLAY_GRID}, counts = new Map();
    const isOverlay = (e) => {
      const role = e.getAttribute('role');
      if (e.getAttribute('aria-modal') === 'true' || role === 'dialog' || role === 'alertdialog' || (e.localName === 'dialog' && e.open)) return true;
      return getComputedStyle(e).position === 'fixed';
    };
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let top;
      for (let e = document.elementFromPoint((i + 0.5) * innerWidth / n, (j + 0.5) * innerHeight / n); e && e !== document.body && e !== document.documentElement; e = e.parentElement) {
        if (isOverlay(e)) top = e; // the outermost: a backdrop and the dialog in it are one overlay
      }
      if (top) counts.set(top, (counts.get(top) || 0) + 1);
    }
    let best, most = 0;
    for (const [e, c] of counts) if (c > most) { best = e; most = c; }
    const describe = (e) => e.localName + (e.id ? '#' + e.id : '') + [...e.classList].slice(0, 3).map((c) => '.' + c).join('') + (e.getAttribute('role') ? '[role=' + e.getAttribute('role') + ']' : '') + (e.getAttribute('aria-modal') === 'true' ? '[aria-modal]' : '');
    out.overlay = { share: most / (n * n), element: best ? describe(best).slice(0, 200) : undefined };
  }`,
  /** Challenge pages' titles and elements, and CAPTCHA widgets on screen. */
  challenge: `{
    const markers = [], widgets = [];
    const title = document.title.trim();
    if (/^(just a moment|attention required|checking (your|if the site connection is secure)|please wait while we|verify(ing)? you are (a )?human|are you a robot|pardon our interruption|one more step|ddos-guard|security check|access denied)/i.test(title)) markers.push('title: ' + title.slice(0, 80));
    const pages = {
      'cloudflare challenge': '#challenge-form, #challenge-running, #challenge-stage, #cf-challenge-running, .cf-browser-verification, #cf-please-wait, script[src*="/cdn-cgi/challenge-platform/"]',
      'perimeterx': '#px-captcha',
      'datadome': 'iframe[src*="captcha-delivery.com"], script[src*="captcha-delivery.com"]',
      'akamai': '#sec-if-cpt-container, #sec-cpt-if',
      'ddos-guard': 'script[src*="ddos-guard.net"]',
    };
    for (const [name, sel] of Object.entries(pages)) if (document.querySelector(sel)) markers.push(name);
    const shown = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
    const captchas = {
      'cloudflare turnstile': 'iframe[src*="challenges.cloudflare.com"], .cf-turnstile',
      'hcaptcha': 'iframe[src*="hcaptcha.com"], .h-captcha',
      'recaptcha': 'iframe[src*="/recaptcha/"][src*="anchor"]:not([src*="size=invisible"]), .g-recaptcha',
      'arkose': 'iframe[src*="arkoselabs"], iframe[src*="funcaptcha"]',
    };
    for (const [name, sel] of Object.entries(captchas)) if ([...document.querySelectorAll(sel)].some(shown)) widgets.push(name);
    const textLength = (document.body ? document.body.innerText : '').trim().length;
    out.challenge = { markers, widgets, textLength };
  }`,
  /** The title and the first visible h1: a soft 404 says so there. */
  headings: `{
    const h1 = [...document.querySelectorAll('h1')].find((e) => e.checkVisibility ? e.checkVisibility() : true);
    out.headings = { title: document.title.trim(), h1: h1 ? h1.innerText.trim().slice(0, 200) : '' };
  }`,
  /**
   * Distinct non-ASCII characters of the visible text, each drawn on a canvas in its element's font
   * and compared with a character no font has (U+10FFFD): drawn alike, it is the missing-glyph box.
   */
  glyphs: `{
    const seen = new Map();
    if (document.body) {
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      let nodes = 0;
      while (walker.nextNode() && nodes++ < ${GLYPH_PROBE_LIMITS.textNodes} && seen.size < ${GLYPH_PROBE_LIMITS.characters}) {
        const value = walker.currentNode.nodeValue;
        if (!value || !/[^\\u0000-\\u007f]/.test(value)) continue;
        const parent = walker.currentNode.parentElement;
        if (!parent || parent.closest('script, style, noscript, template') || (parent.checkVisibility && !parent.checkVisibility())) continue;
        const cs = getComputedStyle(parent);
        const font = cs.fontStyle + ' ' + cs.fontWeight + ' 32px ' + cs.fontFamily;
        for (const ch of value) {
          if (ch.codePointAt(0) < 0x80 || (/[\\p{Z}\\p{C}\\p{M}]/u.test(ch) && !/\\p{Co}/u.test(ch))) continue;
          if (!seen.has(font + '\\u0000' + ch) && seen.size < ${GLYPH_PROBE_LIMITS.characters}) seen.set(font + '\\u0000' + ch, { font, ch });
        }
      }
    }
    // A page with no character to check (most pages in Latin script) makes no canvas at all.
    const canvas = seen.size ? document.createElement('canvas') : null;
    if (canvas) { canvas.width = 48; canvas.height = 48; }
    const ctx = canvas && canvas.getContext('2d', { willReadFrequently: true });
    const draw = (font, ch) => { ctx.clearRect(0, 0, 48, 48); ctx.font = font; ctx.fillText(ch, 4, 36); return ctx.getImageData(0, 0, 48, 48).data; };
    const boxes = new Map();
    const missing = new Set(), checked = new Set();
    for (const { font, ch } of seen.values()) {
      checked.add(ch);
      let box = boxes.get(font);
      if (!box) { ctx.font = font; box = { width: ctx.measureText('\\u{10FFFD}').width, pixels: draw(font, '\\u{10FFFD}') }; boxes.set(font, box); }
      ctx.font = font;
      if (ctx.measureText(ch).width !== box.width) continue;
      const pixels = draw(font, ch);
      let same = true;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== box.pixels[i]) { same = false; break; }
      if (same) missing.add(ch);
    }
    const hex = (ch) => 'U+' + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, '0');
    out.glyphs = { missing: missing.size, checked: checked.size, examples: [...missing].slice(0, 10).map(hex) };
  }`,
} as const;

const EXTRACTORS: Record<ExtractKind, string> = {
  metadata: `{
    const abs = (u) => { try { return u ? new URL(u, document.baseURI).href : null; } catch { return null; } };
    const URL_KEYS = /^(image|image:url|image:secure_url|url|video|video:url|video:secure_url|audio|audio:url|audio:secure_url|player)$/;
    const og = {}, twitter = {};
    for (const m of document.querySelectorAll('meta[property], meta[name]')) {
      const key = (m.getAttribute('property') || m.getAttribute('name') || '').trim().toLowerCase();
      const value = (m.getAttribute('content') || '').trim();
      const [bag, name] = key.startsWith('og:') ? [og, key.slice(3)] : key.startsWith('twitter:') ? [twitter, key.slice(8)] : [];
      if (!bag || !value || name in bag) continue;
      bag[name] = URL_KEYS.test(name) ? abs(value) || value : value;
    }
    const link = (test) => {
      for (const l of document.querySelectorAll('link[rel][href]')) if (test(l.getAttribute('rel').toLowerCase().split(/\\s+/))) return abs(l.getAttribute('href'));
      return null;
    };
    const description = document.querySelector('meta[name="description" i]');
    out.metadata = {
      title: document.title.trim() || null,
      description: (description && description.getAttribute('content') || '').trim() || null,
      lang: (document.documentElement.getAttribute('lang') || '').trim() || null,
      canonical: link((r) => r.includes('canonical')),
      openGraph: og,
      twitter,
      favicon: link((r) => r.includes('icon')) || (/^https?:$/.test(location.protocol) ? new URL('/favicon.ico', location.href).href : null),
      appleTouchIcon: link((r) => r.includes('apple-touch-icon') || r.includes('apple-touch-icon-precomposed')),
      contentType: document.contentType || null,
    };
  }`,
  text: `out.text = (document.body ? document.body.innerText : '').slice(0, ${EXTRACT_CAPS.text + 1});`,
  html: `out.html = ((document.doctype ? '<!DOCTYPE ' + document.doctype.name + '>\\n' : '') + document.documentElement.outerHTML).slice(0, ${EXTRACT_CAPS.html + 1});`,
  // Readability (Firefox's reader view) on a copy of the document, so the page shown is untouched.
  // A page Readability finds no article in, or throws on (the page's scripts share this world and
  // may have replaced a DOM method it uses), gives its whole body. Trusted Types do not stop it: the
  // copy it works on is checked by tests/features/page-findings.test.ts.
  markdown: `{
    let article = null;
    try {
      const Readability = (() => { const module = {}; READABILITY_SOURCE; return Readability; })();
      article = new Readability(document.cloneNode(true), { charThreshold: 200 }).parse();
    } catch {}
    out.article = article ? { title: article.title || '', content: article.content || '' } : { title: document.title, content: document.body ? document.body.innerHTML : '' };
  }`,
};

let readabilitySource: string | undefined;
/** @mozilla/readability's browser build, read once per process. */
function readability(): string {
  // Read from the package at run time (the worker's zip carries the file: serverless.yml), not bundled.
  readabilitySource ??= readFileSync(packageFile('@mozilla/readability', 'Readability.js'), 'utf8');
  return readabilitySource;
}

/** The page script for these extract kinds and probes: one round trip, its answer one object. */
export function findingsScript(kinds: readonly ExtractKind[], probes: ReadonlyArray<keyof typeof PROBES>): string {
  const parts = [...kinds.map((k) => EXTRACTORS[k]), ...probes.map((p) => PROBES[p])];
  // A replacer function: the library's source holds "$" patterns a replacement string would expand.
  const body = parts.join('\n').replace('READABILITY_SOURCE', () => readability());
  return `(async () => { const out = {}; ${body}\n return out; })()`;
}

/** What findingsScript answers. */
export interface PageFacts {
  metadata?: Omit<PageMetadata, 'finalUrl' | 'httpStatus'>;
  text?: string;
  html?: string;
  article?: { title: string; content: string };
  overlay?: { share: number; element?: string };
  challenge?: { markers: string[]; widgets: string[]; textLength: number };
  headings?: { title: string; h1: string };
  glyphs?: { missing: number; checked: number; examples: string[] };
}

/** The extracts asked for, and the quality probes unless `probes` is false; nothing asked, no round trip. */
export async function readPageFacts(page: Page, kinds: readonly ExtractKind[], probes = true): Promise<PageFacts> {
  if (!kinds.length && !probes) return {};
  return (await page.evaluate(findingsScript(kinds, probes ? (Object.keys(PROBES) as Array<keyof typeof PROBES>) : []))) as PageFacts;
}

let turndown: TurndownService | undefined;
/** HTML to Markdown: ATX headings, fenced code, "-" bullets. turndown (and its DOM) is imported on the first markdown extract. */
export async function toMarkdown(title: string, html: string): Promise<string> {
  const { default: TurndownService } = await import('turndown');
  turndown ??= new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced', bulletListMarker: '-' }).remove([
    'script',
    'style',
    'noscript',
  ]);
  const body = turndown.turndown(html).trim();
  const heading = title.trim();
  // Readability keeps the title apart from the content: put it back as the document's heading.
  return heading && !body.startsWith(`# ${heading}`) ? `# ${heading}\n\n${body}\n` : `${body}\n`;
}

/** The extracts document of a job: the kinds asked for, each text field cut at its cap (EXTRACT_CAPS). */
export async function extractsDocument(
  kinds: readonly ExtractKind[],
  facts: PageFacts,
  main: { finalUrl: string; document: HTTPResponse | undefined },
): Promise<ExtractsDocument> {
  const doc: ExtractsDocument = {};
  const truncated: NonNullable<ExtractsDocument['truncated']> = [];
  const capped = (field: 'text' | 'markdown' | 'html', value: string) => {
    const cap = EXTRACT_CAPS[field];
    if (Buffer.byteLength(value, 'utf8') <= cap) return value;
    truncated.push(field);
    // Cut at the byte cap, then drop a character split in two.
    return Buffer.from(value, 'utf8')
      .subarray(0, cap)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
  };
  if (kinds.includes('metadata') && facts.metadata) {
    const header = main.document?.headers()['content-type'];
    doc.metadata = {
      ...facts.metadata,
      finalUrl: main.finalUrl,
      httpStatus: main.document?.status() ?? null,
      contentType: header ?? facts.metadata.contentType,
    };
  }
  if (kinds.includes('text') && facts.text !== undefined) doc.text = capped('text', facts.text);
  if (kinds.includes('markdown') && facts.article)
    doc.markdown = capped('markdown', await toMarkdown(facts.article.title, facts.article.content));
  if (kinds.includes('html') && facts.html !== undefined) doc.html = capped('html', facts.html);
  if (truncated.length) doc.truncated = truncated;
  return doc;
}
