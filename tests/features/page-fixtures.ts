// Fixture pages for extract and the quality checks: a clean control page that no check may flag,
// and one bad page per check.
import { html, type PageHandler } from '../../fixtures/pages.js';

const paragraphs = (n: number, topic: string) =>
  Array.from(
    { length: n },
    (_, i) =>
      `<p>Paragraph ${i + 1} about ${topic}: a city hive needs a calm spot, a little water and a keeper who visits every week of the season, whatever the weather says.</p>`,
  ).join('');

const page =
  (status: number, body: string): PageHandler =>
  (_req, res) =>
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(body);

export const FIXTURES: Record<string, string | PageHandler> = {
  '/meta': `<!doctype html><html lang="en-GB"><head><meta charset="utf-8">
<title> Fixture — metadata </title>
<meta name="description" content="A page that says everything about itself.">
<link rel="canonical" href="/articles/meta">
<meta property="og:title" content="OG title"><meta property="og:description" content="OG description">
<meta property="og:image" content="img/card.png"><meta property="og:image" content="img/second.png">
<meta property="og:url" content="/articles/meta"><meta property="og:type" content="article"><meta property="og:site_name" content="Fixtures">
<meta name="twitter:card" content="summary_large_image"><meta name="twitter:site" content="@fixtures">
<meta name="twitter:title" content="Twitter title"><meta name="twitter:image" content="https://cdn.example/tw.png">
<link rel="mask-icon" href="/icons/mask.svg"><link rel="icon" type="image/png" sizes="32x32" href="icons/favicon-32.png">
<link rel="apple-touch-icon" href="../icons/apple-touch.png">
</head><body><h1>Metadata</h1><p>The head says it all.</p></body></html>`,
  '/article': html(
    `<header><nav><ul><li><a href="/">Home page link</a></li><li><a href="/news">News section link</a></li><li><a href="/about">About us link</a></li></ul></nav>
<div class="promo">Subscribe today</div></header>
<main><article>
<h1>How to keep bees in a city</h1>
<p class="byline">By A. Keeper</p>
${paragraphs(3, 'finding a place')}
<h2>Choosing a hive</h2>
<p>Ask <a href="/assoc">the beekeepers' association</a> before you buy: they lend hives to beginners and know which ones suit a roof.</p>
<ul><li>A flat roof with shelter from the wind</li><li>Water within a hundred metres</li><li>Neighbours who were asked first</li></ul>
${paragraphs(3, 'hives')}
<h2>Feeding through winter</h2>
<ol><li>Sugar syrup in autumn</li><li>Fondant after the first frost</li></ol>
${paragraphs(3, 'winter')}
<p style="display:none">display-none text</p>
</article></main>
<footer><p>Copyright fixture footer</p><nav><a href="/privacy">Privacy</a></nav></footer>
<script>document.querySelector('article').setAttribute('data-added-by-script', 'yes')</script>`,
    '<title>How to keep bees in a city</title>',
  ),
  // The control page: a header band, an image-like block, text with accents, dashes and CJK, a
  // fixed header (small: no overlay), a CAPTCHA-free form.
  '/clean': html(
    `<div style="position:fixed;top:0;left:0;right:0;height:56px;background:#234;color:#fff;font:20px sans-serif;padding:14px">Fixtures — café menu</div>
<div style="padding:90px 40px 0;font:18px/1.5 serif;color:#222">
<h1>Welcome to the café</h1>
<div style="float:right;width:320px;height:220px;margin:0 0 20px 20px;background:linear-gradient(135deg,#c33,#fc3 50%,#3a6)"></div>
${paragraphs(6, 'coffee')}<p>Crème brûlée, naïve façade, “quotes” – and 東京 ラーメン.</p></div>`,
    '<title>Welcome — Fixtures</title>',
  ),
  // A page whose CSP enforces Trusted Types: innerHTML writes with plain strings throw in it.
  '/trusted-types': (_req, res) =>
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "require-trusted-types-for 'script'" })
      .end(
        html(
          `<nav><a href="/">Home page link</a></nav><article><h1>Typed page</h1>${paragraphs(4, 'types')}<h2>Second part</h2>${paragraphs(3, 'more types')}</article>`,
          '<title>Typed page</title>',
        ),
      ),
  '/blank': html(''),
  '/modal': html(
    `<div style="padding:40px;font:18px serif">${paragraphs(8, 'privacy')}</div>
<div id="consent-backdrop" class="backdrop" style="position:fixed;inset:0;background:rgba(0,0,0,.6);z-index:10">
<div role="dialog" aria-modal="true" style="margin:120px auto;width:480px;background:#fff;padding:24px">We value your privacy <button>Accept</button></div></div>`,
  ),
  '/challenge': html(
    `<div id="challenge-form" style="font:20px sans-serif;padding:40px">Checking if the site connection is secure. Enable JavaScript and cookies to continue.</div>`,
    '<title>Just a moment...</title>',
  ),
  '/captcha': html(
    `<div style="padding:40px;font:20px sans-serif"><p>Please confirm you are not a robot.</p><div class="g-recaptcha" style="width:304px;height:78px;border:1px solid #ccc"></div></div>`,
    '<title>Verification</title>',
  ),
  '/contact': html(
    `<div style="padding:40px;font:18px serif"><h1>Contact us</h1>${paragraphs(8, 'contact')}<form><textarea></textarea><div class="g-recaptcha" style="width:304px;height:78px;border:1px solid #ccc"></div></form></div>`,
    '<title>Contact</title>',
  ),
  '/soft404': html(
    `<div style="padding:40px;font:18px serif"><h1>Sorry, we could not find that</h1><p>Try the search box, or go back to the home page and browse from there.</p></div>`,
    '<title>Page not found | Fixtures</title>',
  ),
  '/missing': page(
    404,
    html(`<div style="padding:40px;font:18px serif"><h1>Page not found</h1><p>Gone.</p></div>`, '<title>Page not found</title>'),
  ),
  // A character no font has and a private-use icon whose font never loaded: both drawn as boxes.
  '/tofu': html(
    `<div style="padding:40px;font:28px sans-serif"><p>Price: 5 \u{10FFFD} per kilo</p><p><span class="icon">\u{F8FF}</span> Settings</p><p>Crème brûlée</p></div>`,
    '<title>Boxes</title>',
  ),
};
