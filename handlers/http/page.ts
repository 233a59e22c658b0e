// The web page at GET /: a URL field with the main options, live status, the image when done, the
// error when failed, and this browser's last few shots. Its files live in handlers/http/page/
// (index.html, page.css, page.js) and ship with the API function (serverless.yml); this module
// serves them as one self-contained document: style and script inlined, pinned by hash in the CSP.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { APIGatewayProxyResult } from 'aws-lambda';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

const STYLE_TAG = '<link rel="stylesheet" href="page.css">';
const SCRIPT_TAG = '<script type="module" src="page.js"></script>';
const API_ATTRIBUTE = 'data-api=""';

interface WebPage {
  /** The document with its style and script inlined; API_ATTRIBUTE still to be filled. */
  html: string;
  csp: string;
}

/** Reads and assembles the page once; a file or tag missing is a packaging mistake, said plainly. */
function assemble(dir: URL): WebPage {
  const read = (name: string) => readFileSync(new URL(name, dir), 'utf8');
  const [template, style, script] = [read('index.html'), read('page.css'), read('page.js')];
  for (const part of [STYLE_TAG, SCRIPT_TAG, API_ATTRIBUTE]) {
    if (!template.includes(part)) throw new Error(`web page: index.html lacks ${part}`);
  }
  // Functions as replacements: the files' text is inserted as is ($ patterns stay literal).
  const html = template
    .replace(STYLE_TAG, () => `<style>${style}</style>`)
    .replace(SCRIPT_TAG, () => `<script type="module">${script}</script>`);
  // The image comes from a presigned URL on the bucket's host (S3, or the emulator locally), so
  // img-src must allow other origins; everything else stays on this origin.
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "img-src 'self' https: http: data: blob:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

let page: { dir: string; page: WebPage } | undefined;

/**
 * GET / as an API Gateway proxy result. `dir` holds the page's files; `apiBase` is the path prefix
 * of the API (the stage on API Gateway, '' locally), which the script prefixes to its calls.
 */
export function webPageResponse(dir: URL, apiBase: string): APIGatewayProxyResult {
  if (page?.dir !== dir.href) page = { dir: dir.href, page: assemble(dir) };
  const base = apiBase.replace(/\/+$/, '');
  return {
    statusCode: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': page.page.csp,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
    body: page.page.html.replace(API_ATTRIBUTE, () => `data-api="${escapeAttr(base)}"`),
  };
}
