// The web page at GET /: a URL field with the main options, live status, the image when done, the
// error when failed, and this browser's last few shots (localStorage). One self-contained document:
// no framework, no external resource, inline script and style pinned by hash in the CSP.
import { createHash } from 'node:crypto';
import type { APIGatewayProxyResult } from 'aws-lambda';

/** How many shots the page remembers in this browser. */
export const HISTORY_SIZE = 6;

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #f6f8fa; --card: #fff; --line: #d0d7de;
  --accent: #0a5bd3; --accent-fg: #fff; --bad: #b42318; --good: #1a7f37; --focus: #ffbf47; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --card: #161b22;
  --line: #30363d; --accent: #4493f8; --accent-fg: #0d1117; --bad: #ff7b72; --good: #3fb950; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Open Sans", sans-serif; color: var(--fg); background: var(--bg); }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--card); padding: .5rem; }
header, main { max-width: 60rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1.5rem; } h1 { margin: 0; font-size: 1.75rem; } h1 span { color: var(--accent); }
header p { margin: .25rem 0 1rem; color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: 1rem; margin-bottom: 1rem; }
label { font-weight: 600; display: block; margin-bottom: .25rem; }
.row { display: flex; gap: .5rem; flex-wrap: wrap; }
.row input[type=url] { flex: 1 1 20rem; }
input, select, button { font: inherit; color: inherit; }
input[type=url], input[type=number], input[type=password], select { padding: .5rem .6rem; border: 1px solid var(--line); border-radius: .375rem; background: var(--bg); }
input[type=number] { width: 7rem; }
input[type=password] { width: 12rem; }
button { padding: .5rem 1rem; border-radius: .375rem; border: 1px solid var(--line); background: var(--bg); cursor: pointer; }
button.primary { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); font-weight: 600; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
fieldset { border: 0; padding: 0; margin: 1rem 0 0; display: flex; gap: 1rem; flex-wrap: wrap; align-items: flex-end; }
legend { font-weight: 600; padding: 0; margin-bottom: .25rem; }
.check { display: flex; gap: .4rem; align-items: center; padding-bottom: .5rem; } .check label { margin: 0; font-weight: 400; }
.hint { color: var(--muted); font-size: .875rem; margin: .25rem 0 0; }
#status { margin: 0; font-weight: 600; } #elapsed { color: var(--muted); font-variant-numeric: tabular-nums; }
#error { color: var(--bad); font-weight: 600; margin: .5rem 0 0; }
figure { margin: 0; } figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: .25rem; background: #fff; }
figcaption { margin-top: .5rem; display: flex; gap: 1rem; flex-wrap: wrap; }
a { color: var(--accent); }
h2 { font-size: 1.125rem; margin: 0 0 .5rem; }
#history { list-style: none; margin: 0; padding: 0; }
#history li { display: flex; gap: .75rem; align-items: baseline; padding: .35rem 0; border-top: 1px solid var(--line); }
#history li:first-child { border-top: 0; }
#history button { padding: .1rem .5rem; }
#history .url { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1; }
#history .meta { color: var(--muted); font-size: .875rem; white-space: nowrap; }
.done { color: var(--good); } .failed { color: var(--bad); }
[hidden] { display: none !important; }
`;

// Runs in the browser: keep it plain ES2020, no imports. Everything the user typed goes into the
// DOM through textContent or attributes, never as HTML.
const SCRIPT = `
(() => {
  'use strict';
  const api = document.documentElement.dataset.api || '';
  const KEY = 'url2png.history';
  const MAX = ${HISTORY_SIZE};
  const TIMEOUT_MS = 120000;
  const $ = (id) => document.getElementById(id);
  const form = $('shot-form'), urlInput = $('url'), statusEl = $('status'), elapsedEl = $('elapsed');
  const errorEl = $('error'), result = $('result'), img = $('shot'), download = $('download'), openLink = $('open');
  const list = $('history'), historyCard = $('history-card'), clearBtn = $('clear-history');
  let run = 0;
  let ticker;

  const normalise = (raw) => {
    const url = raw.trim();
    return url && !/^[a-z][a-z0-9+.-]*:\\/\\//i.test(url) ? 'https://' + url : url;
  };
  const seconds = (ms) => (ms / 1000).toFixed(1) + ' s';
  const readHistory = () => { try { const v = JSON.parse(localStorage.getItem(KEY) || '[]'); return Array.isArray(v) ? v : []; } catch { return []; } };
  const writeHistory = (items) => { try { localStorage.setItem(KEY, JSON.stringify(items.slice(0, MAX))); } catch { /* storage full or off */ } };
  const remember = (entry) => { writeHistory([entry, ...readHistory().filter((e) => e.id !== entry.id)]); renderHistory(); };
  const update = (id, patch) => { writeHistory(readHistory().map((e) => (e.id === id ? Object.assign({}, e, patch) : e))); renderHistory(); };

  function setStatus(text, state) {
    statusEl.textContent = text;
    statusEl.className = state || '';
  }
  function startTimer(t0) {
    clearInterval(ticker);
    const tick = () => { elapsedEl.textContent = seconds(Date.now() - t0); };
    tick();
    ticker = setInterval(tick, 100);
  }
  function stopTimer(t0) { clearInterval(ticker); if (t0) elapsedEl.textContent = seconds(Date.now() - t0); }
  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = false;
  }
  function clearResult() {
    errorEl.hidden = true; errorEl.textContent = '';
    result.hidden = true; img.removeAttribute('src');
  }
  function extension(contentType) {
    return ({ 'image/jpeg': 'jpg', 'image/webp': 'webp' })[contentType] || 'png';
  }
  function fileName(body) {
    let host = 'screenshot';
    try { host = new URL(body.url).hostname.replace(/[^a-z0-9.-]+/gi, '-'); } catch { /* keep */ }
    return host + '-' + String(body.id).slice(0, 8) + '.' + extension(body.contentType);
  }
  function showImage(body, mine, t0) {
    img.alt = 'Screenshot of ' + body.url;
    img.onload = () => {
      if (mine !== run) return;
      stopTimer(t0);
      setStatus(t0 ? 'Done: ' + body.url : 'Shot of ' + body.url, 'done');
      result.hidden = false;
      result.setAttribute('aria-busy', 'false');
    };
    img.onerror = () => {
      if (mine !== run) return;
      stopTimer(t0);
      setStatus('Failed', 'failed');
      showError('The image could not be loaded; its link may have expired. Take the shot again.');
    };
    download.href = body.imageUrl;
    download.setAttribute('download', fileName(body));
    openLink.href = body.imageUrl;
    img.src = body.imageUrl;
  }
  async function readJson(res) {
    try { return await res.json(); } catch { return {}; }
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function follow(statusUrl, mine, t0) {
    let wait = 250;
    for (;;) {
      if (mine !== run) return;
      let body;
      try {
        const res = await fetch(statusUrl, { headers: { accept: 'application/json' }, cache: 'no-store' });
        body = await readJson(res);
        if (!res.ok) throw new Error((body.error && body.error.message) || 'the service answered ' + res.status);
      } catch (e) {
        if (mine !== run) return;
        stopTimer(t0); setStatus('Failed', 'failed'); showError(e.message || 'the service did not answer');
        return;
      }
      if (mine !== run) return;
      if (body.status === 'done') {
        update(body.id, { status: 'done' });
        setStatus('Loading the image...');
        showImage(body, mine, t0);
        return;
      }
      if (body.status === 'failed') {
        update(body.id, { status: 'failed' });
        stopTimer(t0);
        setStatus('Failed: ' + body.url, 'failed');
        showError((body.error && body.error.message) || 'the screenshot failed');
        return;
      }
      setStatus(body.status === 'queued' ? 'Queued: waiting for a browser to render ' + body.url : 'Rendering ' + body.url);
      if (t0 && Date.now() - t0 > TIMEOUT_MS) {
        stopTimer(t0); setStatus('Still waiting', 'failed');
        showError('No result after ' + seconds(TIMEOUT_MS) + '; the job is still ' + body.status + '. Pick it from "Your recent shots" later.');
        return;
      }
      await sleep(wait);
      wait = Math.min(wait * 1.5, 1000);
    }
  }

  async function submit() {
    const mine = ++run;
    clearResult();
    const url = normalise(urlInput.value);
    if (!url) { setStatus(''); elapsedEl.textContent = ''; showError('Type the address of a page, e.g. https://example.com'); urlInput.focus(); return; }
    urlInput.value = url;
    const body = { url };
    for (const name of ['width', 'height']) {
      const raw = $(name).value.trim();
      if (raw) body[name] = Number(raw);
    }
    if ($('fullPage').checked) body.fullPage = true;
    const format = $('format').value;
    if (format && format !== 'png') body.format = format; // png is the default: old services know no format
    const t0 = Date.now();
    startTimer(t0);
    setStatus('Submitting ' + url);
    result.setAttribute('aria-busy', 'true');
    let res, json;
    try {
      const headers = { 'content-type': 'application/json', accept: 'application/json' };
      // Deployed stages require an API key on POST; kept for this tab only, never in localStorage.
      const apiKey = $('apiKey').value.trim();
      if (apiKey) { headers['x-api-key'] = apiKey; try { sessionStorage.setItem('url2png.apiKey', apiKey); } catch { /* off */ } }
      res = await fetch(api + '/screenshots', { method: 'POST', headers, body: JSON.stringify(body) });
      json = await readJson(res);
    } catch {
      if (mine !== run) return;
      stopTimer(t0); setStatus('Failed', 'failed'); showError('The service did not answer; check that it is running.');
      return;
    }
    if (mine !== run) return;
    if (!res.ok) {
      stopTimer(t0); setStatus('Refused', 'failed');
      showError((json.error && json.error.message) || 'the service answered ' + res.status);
      urlInput.focus();
      return;
    }
    remember({ id: json.id, url: json.url || url, statusUrl: json.statusUrl, at: new Date().toISOString(), status: 'queued' });
    await follow(json.statusUrl, mine, t0);
  }

  function renderHistory() {
    const items = readHistory();
    list.replaceChildren();
    historyCard.hidden = items.length === 0;
    for (const item of items) {
      const li = document.createElement('li');
      const show = document.createElement('button');
      show.type = 'button';
      show.textContent = 'Show';
      show.setAttribute('aria-label', 'Show the shot of ' + item.url);
      show.addEventListener('click', () => {
        const mine = ++run;
        clearResult();
        clearInterval(ticker); elapsedEl.textContent = '';
        setStatus('Looking up ' + item.url);
        follow(item.statusUrl, mine, 0);
      });
      const url = document.createElement('span');
      url.className = 'url';
      url.textContent = item.url;
      url.title = item.url;
      const meta = document.createElement('span');
      meta.className = 'meta ' + (item.status || '');
      const when = document.createElement('time');
      when.dateTime = item.at;
      when.textContent = new Date(item.at).toLocaleString();
      meta.append(when, ' \\u00b7 ' + (item.status || 'queued'));
      li.append(show, url, meta);
      list.append(li);
    }
  }

  form.addEventListener('submit', (event) => { event.preventDefault(); submit(); });
  clearBtn.addEventListener('click', () => { writeHistory([]); renderHistory(); urlInput.focus(); });
  // Links can prefill the field (/?url=...) and also take the shot at once (&run=1).
  const params = new URLSearchParams(location.search);
  const preset = params.get('url');
  try { $('apiKey').value = sessionStorage.getItem('url2png.apiKey') || ''; } catch { /* storage off */ }
  renderHistory();
  if (preset) {
    urlInput.value = preset;
    if (params.get('run') === '1') submit();
  }
})();
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

// The image comes from a presigned URL on the bucket's host (S3, or the emulator locally), so
// img-src must allow other origins; everything else stays on this origin.
const CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "img-src 'self' https: http: data: blob:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The page's HTML; `apiBase` is the path prefix of the API (the stage on API Gateway, '' locally). */
export function webPageHtml(apiBase: string): string {
  const base = apiBase.replace(/\/+$/, '');
  return `<!doctype html>
<html lang="en" data-api="${escapeAttr(base)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>url2png: a screenshot of any web page</title>
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#url">Skip to the URL field</a>
<header>
<h1>url<span>2</span>png</h1>
<p>Paste the address of a web page, press Enter, and get an image of it.</p>
</header>
<main>
<form id="shot-form" class="card" novalidate>
  <label for="url">Page URL</label>
  <div class="row">
    <input id="url" name="url" type="url" inputmode="url" autocomplete="url" spellcheck="false" placeholder="https://example.com" aria-describedby="url-hint" autofocus>
    <button class="primary" type="submit">Take screenshot</button>
  </div>
  <p id="url-hint" class="hint">http or https; without a scheme, https:// is assumed.</p>
  <fieldset>
    <legend>Options</legend>
    <div><label for="width">Width (px)</label><input id="width" name="width" type="number" min="320" max="3840" step="1" placeholder="1280" inputmode="numeric"></div>
    <div><label for="height">Height (px)</label><input id="height" name="height" type="number" min="200" max="2160" step="1" placeholder="800" inputmode="numeric"></div>
    <div><label for="format">Format</label><select id="format" name="format"><option value="png" selected>PNG</option><option value="jpeg">JPEG</option><option value="webp">WebP</option></select></div>
    <div class="check"><input id="fullPage" name="fullPage" type="checkbox"><label for="fullPage">Whole page (scroll height)</label></div>
    <div><label for="apiKey">API key (deployed stages)</label><input id="apiKey" name="apiKey" type="password" autocomplete="off" spellcheck="false" placeholder="optional"></div>
  </fieldset>
</form>
<section class="card" aria-labelledby="result-h">
  <h2 id="result-h">Result</h2>
  <p><span id="status" role="status" aria-live="polite">Nothing yet: type a URL above.</span> <span id="elapsed"></span></p>
  <p id="error" role="alert" hidden></p>
  <figure id="result" hidden aria-busy="false">
    <img id="shot" alt="">
    <figcaption><a id="download" href="#">Download image</a> <a id="open" href="#" target="_blank" rel="noopener noreferrer">Open in a new tab</a></figcaption>
  </figure>
</section>
<section id="history-card" class="card" aria-labelledby="history-h" hidden>
  <h2 id="history-h">Your recent shots</h2>
  <ol id="history"></ol>
  <p><button id="clear-history" type="button">Clear the list</button> <span class="hint">Kept in this browser only.</span></p>
</section>
</main>
<script>${SCRIPT}</script>
</body>
</html>`;
}

/** GET / as an API Gateway proxy result. */
export function webPageResponse(apiBase: string): APIGatewayProxyResult {
  return {
    statusCode: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': CSP,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
    body: webPageHtml(apiBase),
  };
}
