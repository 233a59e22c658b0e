// @ts-check
// The web page's script: submit the form to POST /screenshots, follow the status URL, show the image
// or the error, and keep this browser's last few shots (localStorage). Plain ES2022 in the browser,
// no imports; type-checked by `npm run typecheck` (handlers/http/page/tsconfig.json). Everything the
// user typed goes into the DOM through textContent or attributes, never as HTML.

/**
 * @typedef {{ code: string; message: string }} ApiProblem
 * @typedef {{ id: string; status: string; url: string; statusUrl?: string; imageUrl?: string;
 *   contentType?: string; error?: ApiProblem; quality?: { flags: string[] };
 *   metadata?: { title: string | null; description: string | null }; extractsUrl?: string }} Status
 * @typedef {{ id: string; url: string; statusUrl: string; at: string; status: string }} HistoryEntry
 */

/** The API's path prefix (the stage on API Gateway, '' locally), set by the server. */
const api = document.documentElement.dataset.api || '';
const KEY = 'url2png.history';
/** How many shots the page remembers in this browser. */
const MAX = 6;
const TIMEOUT_MS = 120000;
/** Seconds the API may hold a screenshot request until the job settles (the API allows up to 25). */
const SYNC_WAIT_S = 20;

/**
 * The element with this id, typed by the caller's expectation.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function $(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return el;
}

const form = $('shot-form', HTMLFormElement);
const urlInput = $('url', HTMLInputElement);
const widthInput = $('width', HTMLInputElement);
const heightInput = $('height', HTMLInputElement);
const formatSelect = $('format', HTMLSelectElement);
const fullPageBox = $('fullPage', HTMLInputElement);
/** Off by default, as in the API: a capture shows the page as a visitor sees it unless asked. */
const blockingBoxes = /** @type {const} */ (['blockAds', 'blockTrackers', 'blockCookieBanners']).map((name) => ({
  name,
  box: $(name, HTMLInputElement),
}));
const deviceSelect = $('device', HTMLSelectElement);
const advancedInput = $('advanced', HTMLTextAreaElement);
const advancedBox = $('advanced-box', HTMLDetailsElement);
const apiKeyInput = $('apiKey', HTMLInputElement);
const statusEl = $('status', HTMLElement);
const elapsedEl = $('elapsed', HTMLElement);
const errorEl = $('error', HTMLElement);
const result = $('result', HTMLElement);
const img = $('shot', HTMLImageElement);
const download = $('download', HTMLAnchorElement);
const openLink = $('open', HTMLAnchorElement);
const list = $('history', HTMLOListElement);
// --- extract and the quality report ---
const extractBoxes = ['Metadata', 'Text', 'Markdown', 'Html'].map((name) => $(`extract${name}`, HTMLInputElement));
const findings = $('findings', HTMLElement);
const qualityEl = $('quality', HTMLElement);
const pageMeta = $('page-meta', HTMLElement);
const extractsLine = $('extracts-line', HTMLElement);
const extractsLink = $('extracts', HTMLAnchorElement);
/** The quality flags, the page's title and description, and the extracts link of a done job. @param {Status} body */
function showFindings(body) {
  const flags = body.quality?.flags ?? [];
  qualityEl.textContent = flags.length ? `Quality flags: ${flags.join(', ')}` : 'Quality: no check flagged this capture';
  const meta = body.metadata;
  pageMeta.hidden = !meta;
  pageMeta.textContent = meta ? [meta.title, meta.description].filter(Boolean).join(' — ') || '(no title or description)' : '';
  extractsLine.hidden = !body.extractsUrl;
  extractsLink.href = body.extractsUrl || '#';
  findings.hidden = !body.quality && !body.extractsUrl;
}
const historyCard = $('history-card', HTMLElement);
const clearBtn = $('clear-history', HTMLButtonElement);

// --- PDF options (format "pdf": the request's pdf field) ---
const pdfBox = $('pdf-box', HTMLFieldSetElement);
const pdfPaper = $('pdfPaper', HTMLSelectElement);
const pdfLandscape = $('pdfLandscape', HTMLInputElement);
const pdfPrintBackground = $('pdfPrintBackground', HTMLInputElement);
const pdfMargin = $('pdfMargin', HTMLInputElement);
const pdfPageRanges = $('pdfPageRanges', HTMLInputElement);
const showPdfBox = () => {
  pdfBox.hidden = formatSelect.value !== 'pdf';
};
formatSelect.addEventListener('change', showPdfBox);
/** The request's pdf field as the box says; the API checks the margin and the page list. */
function pdfOptions() {
  /** @type {Record<string, unknown>} */
  const pdf = { paper: pdfPaper.value, landscape: pdfLandscape.checked, printBackground: pdfPrintBackground.checked };
  const margin = pdfMargin.value.trim();
  if (margin) {
    // A bare number is CSS pixels, as the API takes it; anything else goes as written ("10mm").
    const side = /^\d+(\.\d+)?$/.test(margin) ? Number(margin) : margin;
    pdf.margin = { top: side, right: side, bottom: side, left: side };
  }
  const ranges = pdfPageRanges.value.trim();
  if (ranges) pdf.pageRanges = ranges;
  return pdf;
}
// --- end of PDF options ---

/** Each submission or lookup bumps this; a stale one sees a different number and stops. */
let run = 0;
/** @type {ReturnType<typeof setInterval> | undefined} */
let ticker;

/** @param {string} raw */
const normalise = (raw) => {
  const url = raw.trim();
  return url && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? `https://${url}` : url;
};
/** @param {number} ms */
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** @returns {HistoryEntry[]} */
function readHistory() {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}
/** @param {HistoryEntry[]} items */
function writeHistory(items) {
  try {
    localStorage.setItem(KEY, JSON.stringify(items.slice(0, MAX)));
  } catch {
    /* storage full or off */
  }
}
/** @param {HistoryEntry} entry */
function remember(entry) {
  writeHistory([entry, ...readHistory().filter((e) => e.id !== entry.id)]);
  renderHistory();
}
/** @param {string} id @param {Partial<HistoryEntry>} patch */
function update(id, patch) {
  writeHistory(readHistory().map((e) => (e.id === id ? { ...e, ...patch } : e)));
  renderHistory();
}

/** @param {string} text @param {string} [state] */
function setStatus(text, state) {
  statusEl.textContent = text;
  statusEl.className = state || '';
}
/** @param {number} t0 */
function startTimer(t0) {
  clearInterval(ticker);
  const tick = () => {
    elapsedEl.textContent = seconds(Date.now() - t0);
  };
  tick();
  ticker = setInterval(tick, 100);
}
/** @param {number} t0 when the job was submitted, 0 for a lookup from the list */
function stopTimer(t0) {
  clearInterval(ticker);
  if (t0) elapsedEl.textContent = seconds(Date.now() - t0);
}
/** @param {string} message */
function showError(message) {
  errorEl.textContent = message;
  errorEl.hidden = false;
}
function clearResult() {
  errorEl.hidden = true;
  errorEl.textContent = '';
  result.hidden = true;
  findings.hidden = true;
  img.removeAttribute('src');
}
/** @param {string | undefined} contentType */
function extension(contentType) {
  if (contentType === 'application/pdf') return 'pdf';
  return contentType === 'image/jpeg' ? 'jpg' : contentType === 'image/webp' ? 'webp' : 'png';
}
/** @param {Status} body */
function fileName(body) {
  let host = 'screenshot';
  try {
    host = new URL(body.url).hostname.replace(/[^a-z0-9.-]+/gi, '-');
  } catch {
    /* keep */
  }
  return `${host}-${String(body.id).slice(0, 8)}.${extension(body.contentType)}`;
}
/** @param {Status & { imageUrl: string }} body @param {number} mine @param {number} t0 */
function showImage(body, mine, t0) {
  img.hidden = false;
  download.textContent = 'Download image';
  img.alt = `Screenshot of ${body.url}`;
  img.onload = () => {
    if (mine !== run) return;
    stopTimer(t0);
    setStatus(t0 ? `Done: ${body.url}` : `Shot of ${body.url}`, 'done');
    result.hidden = false;
    result.setAttribute('aria-busy', 'false');
  };
  img.onerror = () => {
    if (mine !== run) return;
    stopTimer(t0);
    setStatus('Failed', 'failed');
    showError('The image could not be loaded; its link may have expired. Take the shot again.');
  };
  setLinks(body);
  img.src = body.imageUrl;
}
/** The download and open links of a stored image or PDF. @param {Status & { imageUrl: string }} body */
function setLinks(body) {
  download.href = body.imageUrl;
  download.setAttribute('download', fileName(body));
  openLink.href = body.imageUrl;
}
/** A PDF is not an image: its links only. @param {Status & { imageUrl: string }} body @param {number} t0 */
function showPdf(body, t0) {
  stopTimer(t0);
  setStatus(t0 ? `Done: ${body.url}` : `PDF of ${body.url}`, 'done');
  img.hidden = true;
  download.textContent = 'Download PDF';
  setLinks(body);
  result.hidden = false;
  result.setAttribute('aria-busy', 'false');
}
/**
 * The JSON body of a response, or {} when it has none.
 * @param {Response} res
 * @returns {Promise<Partial<Status> & { error?: ApiProblem }>}
 */
async function readJson(res) {
  try {
    return await res.json();
  } catch {
    return {};
  }
}
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * GETs a status record (a job's or a batch's); undefined once the failure is shown, or when a
 * newer submit took over.
 * @param {string} statusUrl @param {number} mine @param {number} t0
 * @returns {Promise<unknown>}
 */
async function fetchStatus(statusUrl, mine, t0) {
  try {
    const res = await fetch(statusUrl, { headers: { accept: 'application/json' }, cache: 'no-store' });
    const body = await readJson(res);
    if (!res.ok) throw new Error(body.error?.message || `the service answered ${res.status}`);
    return mine === run ? body : undefined;
  } catch (e) {
    if (mine !== run) return undefined;
    stopTimer(t0);
    setStatus('Failed', 'failed');
    showError((e instanceof Error && e.message) || 'the service did not answer');
    return undefined;
  }
}

/** @param {string} statusUrl @param {number} mine @param {number} t0 */
async function follow(statusUrl, mine, t0) {
  let wait = 250;
  for (;;) {
    if (mine !== run) return;
    const body = /** @type {Status | undefined} */ (await fetchStatus(statusUrl, mine, t0));
    if (!body) return;
    if (body.status === 'done' && body.imageUrl) {
      update(body.id, { status: 'done' });
      showFindings(body);
      const stored = { ...body, imageUrl: body.imageUrl };
      if (body.contentType === 'application/pdf') {
        showPdf(stored, t0);
      } else {
        setStatus('Loading the image...');
        showImage(stored, mine, t0);
      }
      return;
    }
    if (body.status === 'failed') {
      update(body.id, { status: 'failed' });
      stopTimer(t0);
      setStatus(`Failed: ${body.url}`, 'failed');
      showError(body.error?.message || 'the screenshot failed');
      return;
    }
    setStatus(body.status === 'queued' ? `Queued: waiting for a browser to render ${body.url}` : `Rendering ${body.url}`);
    if (t0 && Date.now() - t0 > TIMEOUT_MS) {
      stopTimer(t0);
      setStatus('Still waiting', 'failed');
      showError(`No result after ${seconds(TIMEOUT_MS)}; the job is still ${body.status}. Pick it from "Your recent shots" later.`);
      return;
    }
    await sleep(wait);
    wait = Math.min(wait * 1.5, 1000);
  }
}

/**
 * Headers of a POST; deployed stages require an API key, kept for this tab only, never in localStorage.
 * A single screenshot asks the API to hold the answer until the job settles (Prefer: wait=N), so a
 * quick render needs no polling; a service that knows no such preference answers 202 as before.
 * @param {string} path
 */
function postHeaders(path) {
  /** @type {Record<string, string>} */
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (path === '/screenshots') headers.prefer = `wait=${SYNC_WAIT_S}`;
  const apiKey = apiKeyInput.value.trim();
  if (apiKey) {
    headers['x-api-key'] = apiKey;
    try {
      sessionStorage.setItem('url2png.apiKey', apiKey);
    } catch {
      /* storage off */
    }
  }
  return headers;
}

/**
 * POSTs `body` to the API; its accepted answer (an id and a status URL), or undefined once the
 * failure is shown, or when a newer submit took over.
 * @param {string} path @param {unknown} body @param {number} mine @param {number} t0
 * @param {HTMLElement} focusOnRefusal where the user fixes what was refused
 * @returns {Promise<unknown>}
 */
async function postAccepted(path, body, mine, t0, focusOnRefusal) {
  let res;
  let json;
  try {
    res = await fetch(`${api}${path}`, { method: 'POST', headers: postHeaders(path), body: JSON.stringify(body) });
    json = await readJson(res);
  } catch {
    if (mine !== run) return undefined;
    stopTimer(t0);
    setStatus('Failed', 'failed');
    showError('The service did not answer; check that it is running.');
    return undefined;
  }
  if (mine !== run) return undefined;
  // 422 with a status: the job was accepted and failed within the wait; follow() shows why.
  const settledFailed = res.status === 422 && json.status === 'failed';
  if ((!res.ok && !settledFailed) || !json.id || !json.statusUrl) {
    stopTimer(t0);
    setStatus('Refused', 'failed');
    showError(json.error?.message || `the service answered ${res.status}`);
    focusOnRefusal.focus();
    return undefined;
  }
  return json;
}

async function submit() {
  const mine = ++run;
  clearResult();
  // Batch mode: one job per line of the list, the options below for all.
  const urls = batchBox.checked ? batchUrls() : undefined;
  if (urls && (urls.length === 0 || urls.length > MAX_BATCH)) {
    setStatus('');
    elapsedEl.textContent = '';
    showError(
      urls.length
        ? `A batch takes at most ${MAX_BATCH} URLs (this list has ${urls.length}); split it`
        : 'Type the addresses of the pages, one per line',
    );
    urlsInput.focus();
    return;
  }
  const url = urls ? urls[0] || '' : normalise(urlInput.value);
  if (!url) {
    setStatus('');
    elapsedEl.textContent = '';
    showError('Type the address of a page, e.g. https://example.com');
    urlInput.focus();
    return;
  }
  if (!urls) urlInput.value = url;
  /** @type {unknown} */
  let extra = {};
  const advanced = advancedInput.value.trim();
  if (advanced) {
    try {
      extra = JSON.parse(advanced);
    } catch {
      extra = [];
    }
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
      setStatus('');
      elapsedEl.textContent = '';
      showError('Advanced must be a JSON object, e.g. {"locale": "de-DE", "disableAnimations": true}');
      advancedBox.open = true;
      advancedInput.focus();
      return;
    }
  }
  /** @type {Record<string, unknown>} */
  const body = { .../** @type {Record<string, unknown>} */ (extra), url };
  if (deviceSelect.value) body.device = deviceSelect.value;
  for (const [name, input] of /** @type {const} */ ([
    ['width', widthInput],
    ['height', heightInput],
  ])) {
    const raw = input.value.trim();
    if (raw) body[name] = Number(raw);
  }
  if (fullPageBox.checked) body.fullPage = true;
  for (const { name, box } of blockingBoxes) if (box.checked) body[name] = true;
  const extract = extractBoxes.filter((box) => box.checked).map((box) => box.value);
  if (extract.length) body.extract = extract;
  const format = formatSelect.value;
  if (format && format !== 'png') body.format = format; // png is the default: old services know no format

  if (format === 'pdf') body.pdf = pdfOptions(); // PDF options
  if (urls) {
    await submitBatch(urls, body, mine); // batch mode
    return;
  }
  const t0 = Date.now();
  startTimer(t0);
  setStatus(`Submitting ${url}`);
  result.setAttribute('aria-busy', 'true');
  const json = /** @type {(Partial<Status> & { id: string; statusUrl: string }) | undefined} */ (
    await postAccepted('/screenshots', body, mine, t0, urlInput)
  );
  if (!json) return;
  remember({ id: json.id, url: json.url || url, statusUrl: json.statusUrl, at: new Date().toISOString(), status: 'queued' });
  await follow(json.statusUrl, mine, t0);
}

/** The device picker's choices, from GET /devices (the page still works without them). */
async function loadDevices() {
  try {
    const res = await fetch(`${api}/devices`, { headers: { accept: 'application/json' } });
    const json = /** @type {{ devices?: Array<{ name: string; width: number; height: number; deviceScaleFactor: number }> }} */ (
      await readJson(res)
    );
    for (const d of json.devices || []) {
      const option = document.createElement('option');
      option.value = d.name;
      option.textContent = `${d.name} (${d.width}\u00d7${d.height} @${d.deviceScaleFactor}x)`;
      deviceSelect.append(option);
    }
  } catch {
    /* no list: the picker offers the desktop only */
  }
}

// --- Batch mode (several URLs: POST /batches, then GET /batches/{id}) ---
/**
 * @typedef {{ id: string; status: string; url: string; statusUrl?: string; imageUrl?: string; contentType?: string;
 *   error?: ApiProblem }} BatchJob
 * @typedef {{ total: number; queued: number; done: number; failed: number }} BatchCounts
 * @typedef {{ id?: string; status?: string; statusUrl?: string; counts?: BatchCounts; jobs?: BatchJob[];
 *   error?: ApiProblem }} BatchBody
 */
const batchBox = $('batchMode', HTMLInputElement);
const batchFields = $('batch-box', HTMLElement);
const singleBox = $('single-box', HTMLElement);
const urlsInput = $('urls', HTMLTextAreaElement);
const batchCard = $('batch-card', HTMLElement);
const batchStatus = $('batch-status', HTMLElement);
const batchLink = $('batch-link', HTMLAnchorElement);
const batchJobs = $('batch-jobs', HTMLOListElement);
/** POST /batches takes at most this many requests. */
const MAX_BATCH = 50;
const showBatchMode = () => {
  batchFields.hidden = !batchBox.checked;
  singleBox.hidden = batchBox.checked;
};
batchBox.addEventListener('change', () => {
  showBatchMode();
  (batchBox.checked ? urlsInput : urlInput).focus();
});
const batchUrls = () => urlsInput.value.split('\n').map(normalise).filter(Boolean);

/**
 * The batch's state and one line per job: its URL, its status, and its image or its error.
 * @param {BatchBody} batch @param {Map<string, string>} statusUrls job id -> its status URL
 */
function renderBatch(batch, statusUrls) {
  const c = batch.counts;
  batchStatus.textContent = c
    ? `Batch ${batch.status}: ${c.done} of ${c.total} done, ${c.failed} failed, ${c.queued} waiting`
    : `Batch ${batch.status}`;
  batchStatus.className = batch.status === 'done' ? 'done' : batch.status === 'partial' ? 'failed' : '';
  batchJobs.replaceChildren(
    ...(batch.jobs || []).map((job) => {
      const li = document.createElement('li');
      li.dataset.status = job.status;
      const url = document.createElement('span');
      url.className = 'url';
      url.textContent = job.url;
      const meta = document.createElement('span');
      meta.className = `meta ${job.status}`;
      meta.textContent = ` ${job.status}`;
      li.append(url, meta);
      if (job.status === 'done' && job.imageUrl) {
        const open = document.createElement('a');
        open.className = 'open';
        open.href = job.imageUrl;
        open.target = '_blank';
        open.rel = 'noopener noreferrer';
        open.textContent = job.contentType === 'application/pdf' ? 'Open PDF' : 'Open image';
        const save = document.createElement('a');
        save.className = 'download';
        save.href = job.imageUrl;
        save.setAttribute('download', fileName(job));
        save.textContent = 'Download';
        li.append(' ', open, ' ', save);
      }
      if (job.status === 'failed') {
        const why = document.createElement('span');
        why.className = 'why';
        why.textContent = `: ${job.error?.message || 'failed'}`;
        li.append(why);
      }
      const statusUrl = statusUrls.get(job.id);
      if (statusUrl) {
        const status = document.createElement('a');
        status.className = 'status-link';
        status.href = statusUrl;
        status.target = '_blank';
        status.rel = 'noopener noreferrer';
        status.textContent = 'Status';
        li.append(' ', status);
      }
      return li;
    }),
  );
}

/** @param {string[]} urls @param {Record<string, unknown>} options every field but url @param {number} mine */
async function submitBatch(urls, options, mine) {
  batchCard.hidden = true;
  batchJobs.replaceChildren();
  const t0 = Date.now();
  startTimer(t0);
  setStatus(`Submitting ${urls.length} URLs`);
  const requests = urls.map((url) => ({ ...options, url }));
  const json = /** @type {(BatchBody & { id: string; statusUrl: string }) | undefined} */ (
    await postAccepted('/batches', { requests }, mine, t0, urlsInput)
  );
  if (!json) return;
  const statusUrls = new Map((json.jobs || []).map((j) => [j.id, j.statusUrl || '']));
  batchLink.href = json.statusUrl;
  renderBatch({ status: 'queued', jobs: (json.jobs || []).map((j) => ({ ...j, status: 'queued' })) }, statusUrls);
  batchCard.hidden = false;
  setStatus(`Queued: ${urls.length} URLs`);
  let wait = 250;
  for (;;) {
    await sleep(wait);
    wait = Math.min(wait * 1.5, 1000);
    if (mine !== run) return;
    const body = /** @type {BatchBody | undefined} */ (await fetchStatus(json.statusUrl, mine, t0));
    if (!body) return;
    renderBatch(body, statusUrls);
    if (body.status !== 'queued') {
      stopTimer(t0);
      const c = body.counts;
      setStatus(
        body.status === 'done' ? `Done: all ${c?.total} screenshots` : `Partly done: ${c?.failed} of ${c?.total} failed`,
        body.status === 'done' ? 'done' : 'failed',
      );
      return;
    }
    if (Date.now() - t0 > TIMEOUT_MS) {
      stopTimer(t0);
      setStatus('Still waiting', 'failed');
      showError(`No result after ${seconds(TIMEOUT_MS)}; open the batch status link to follow it.`);
      return;
    }
  }
}
// --- end of batch mode ---

function renderHistory() {
  const items = readHistory();
  list.replaceChildren();
  historyCard.hidden = items.length === 0;
  for (const item of items) {
    const li = document.createElement('li');
    const show = document.createElement('button');
    show.type = 'button';
    show.textContent = 'Show';
    show.setAttribute('aria-label', `Show the shot of ${item.url}`);
    show.addEventListener('click', () => {
      const mine = ++run;
      clearResult();
      clearInterval(ticker);
      elapsedEl.textContent = '';
      setStatus(`Looking up ${item.url}`);
      follow(item.statusUrl, mine, 0);
    });
    const url = document.createElement('span');
    url.className = 'url';
    url.textContent = item.url;
    url.title = item.url;
    const meta = document.createElement('span');
    meta.className = `meta ${item.status || ''}`;
    const when = document.createElement('time');
    when.dateTime = item.at;
    when.textContent = new Date(item.at).toLocaleString();
    meta.append(when, ` \u00b7 ${item.status || 'queued'}`);
    li.append(show, url, meta);
    list.append(li);
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  submit();
});
clearBtn.addEventListener('click', () => {
  writeHistory([]);
  renderHistory();
  urlInput.focus();
});
// Links can prefill the field (/?url=...) and also take the shot at once (&run=1).
const params = new URLSearchParams(location.search);
const preset = params.get('url');
try {
  apiKeyInput.value = sessionStorage.getItem('url2png.apiKey') || '';
} catch {
  /* storage off */
}
renderHistory();
loadDevices();
showPdfBox(); // the browser may restore a form as it was left
showBatchMode();
if (preset) {
  urlInput.value = preset;
  if (params.get('run') === '1') submit();
}
