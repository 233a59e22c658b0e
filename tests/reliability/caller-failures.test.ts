// The failure table by cause, for the caller's input: every field that runs caller input in the
// page (styles, scripts, click, scrollTo, selector, waitForSelector, clip, pdf, compareTo, html),
// driven with a bad value through the whole local stack, either ends in a named permanent code
// whose message says what to change, or renders as a browser would. Either way it is settled on
// its first receive: a caller's mistake is never retried as if the service had failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot } from '../support/stack.js';
import { settleAll, startHarness, type Harness } from './harness.js';
import type { ScreenshotStatus } from '../../lib/contract/status.js';

let pages: PageServer;
let h: Harness;
let apiUrl: string;

interface Row {
  field: string;
  body: (origin: string) => Record<string, unknown>;
  /** A permanent code and what its message must say, or 'done' (renders as a browser would). */
  expect: { code: string; message: RegExp } | 'done';
}

const ROWS: Row[] = [
  {
    field: 'styles: an @import that 404s',
    body: (o) => ({ url: `${o}/page`, styles: [`@import url(${o}/missing.css); h1 { color: red }`] }),
    expect: 'done',
  },
  {
    field: 'styles: an @import of a refused address',
    body: (o) => ({ url: `${o}/page`, styles: ['@import url(http://10.255.255.1/x.css);'] }),
    expect: 'done',
  },
  { field: 'styles: CSS that does not parse', body: (o) => ({ url: `${o}/page`, styles: ['}}} h1 { color: ;'] }), expect: 'done' },
  {
    field: 'scripts: throws',
    body: (o) => ({ url: `${o}/page`, scripts: ['throw new Error("boom")'] }),
    expect: { code: 'script_error', message: /scripts\[0\] threw: .*boom/ },
  },
  {
    field: 'scripts: a syntax error',
    body: (o) => ({ url: `${o}/page`, scripts: ['}{'] }),
    expect: { code: 'script_error', message: /scripts\[0\] threw/ },
  },
  {
    field: 'scripts: rejects',
    body: (o) => ({ url: `${o}/page`, scripts: ['Promise.reject(new Error("nope"))'] }),
    expect: { code: 'script_error', message: /nope/ },
  },
  {
    field: 'scripts: never settles',
    body: (o) => ({ url: `${o}/page`, scripts: ['new Promise(() => {})'] }),
    expect: { code: 'script_error', message: /did not finish before the render deadline/ },
  },
  {
    field: 'click: not a selector',
    body: (o) => ({ url: `${o}/page`, click: 'a[[' }),
    expect: { code: 'invalid_selector', message: /click "a\[\[" is not a valid CSS selector/ },
  },
  {
    field: 'click: no such element',
    body: (o) => ({ url: `${o}/page`, click: '#absent' }),
    expect: { code: 'selector_not_found', message: /no element matches click "#absent"/ },
  },
  {
    field: 'click: an element that is not displayed',
    body: (o) => ({ url: `${o}/page`, click: '#hidden' }),
    expect: { code: 'selector_not_found', message: /cannot be clicked/ },
  },
  {
    field: 'scrollTo: not a selector',
    body: (o) => ({ url: `${o}/page`, scrollTo: 'a[[' }),
    expect: { code: 'invalid_selector', message: /scrollTo "a\[\[" is not a valid CSS selector/ },
  },
  {
    field: 'scrollTo: no such element',
    body: (o) => ({ url: `${o}/page`, scrollTo: '#absent' }),
    expect: { code: 'selector_not_found', message: /scrollTo "#absent"/ },
  },
  {
    field: 'selector: not a selector',
    body: (o) => ({ url: `${o}/page`, selector: 'a[[' }),
    expect: { code: 'invalid_selector', message: /selector "a\[\[" is not a valid CSS selector/ },
  },
  {
    field: 'selector: no visible element',
    body: (o) => ({ url: `${o}/page`, selector: '#hidden' }),
    expect: { code: 'selector_not_found', message: /no visible element matches selector "#hidden"/ },
  },
  {
    field: 'waitForSelector: not a selector',
    body: (o) => ({ url: `${o}/page`, waitForSelector: 'a[[' }),
    expect: { code: 'invalid_selector', message: /waitForSelector "a\[\[" is not a valid CSS selector/ },
  },
  {
    field: 'waitForSelector: never visible',
    body: (o) => ({ url: `${o}/page`, waitForSelector: '#hidden' }),
    expect: { code: 'selector_timeout', message: /waitForSelector "#hidden" became visible/ },
  },
  {
    field: 'clip: past the end of the page',
    body: (o) => ({ url: `${o}/page`, clip: { x: 0, y: 9000, width: 300, height: 200 } }),
    expect: 'done',
  },
  {
    field: 'pdf: pageRanges past the last page',
    body: (o) => ({ url: `${o}/page`, format: 'pdf', pdf: { pageRanges: '40-50' } }),
    expect: { code: 'invalid_options', message: /pdf.pageRanges "40-50" is not within the document's pages/ },
  },
  {
    field: 'html: a document whose script throws and whose markup is broken',
    body: () => ({ html: '<script>throw new Error("x")</script><h1>unclosed <b><i>tags' }),
    expect: 'done',
  },
  {
    field: 'html: a sub-resource that 404s',
    body: (o) => ({ html: `<link rel="stylesheet" href="${o}/missing.css"><img src="${o}/missing.png"><h1>html</h1>` }),
    expect: 'done',
  },
];

/** Every JSON line the worker logged about a job, with its receive count. */
const receiveCounts = (id: string) =>
  h.output
    .filter((line) => line.includes(id))
    .map((line) => {
      try {
        return (JSON.parse(line) as { receiveCount?: number }).receiveCount;
      } catch {
        return undefined;
      }
    })
    .filter((n): n is number => n !== undefined);

async function submitAll(bodies: Record<string, unknown>[]): Promise<string[]> {
  return Promise.all(
    bodies.map(async (body) => {
      const { res, json } = await postScreenshot(apiUrl, body);
      expect(res.status, JSON.stringify(json)).toBe(202);
      return String(json.id);
    }),
  );
}

beforeAll(async () => {
  pages = await servePages({
    '/page': html('<h1>caller input</h1><div id="hidden" style="display:none">hidden</div>'),
  });
  h = await startHarness({
    allow: [pages.hostPort],
    env: {
      URL2PNG_RENDER_TIMEOUT_MS: '6000',
      URL2PNG_VISIBILITY_TIMEOUT_S: '60',
      URL2PNG_MAX_RECEIVE_COUNT: '5',
      URL2PNG_RETRY_BACKOFF_S: '1',
    },
    // INFO: each job's 'job settled' line carries its receive count.
    workerEnv: { URL2PNG_RENDER_CONCURRENCY: '4', POWERTOOLS_LOG_LEVEL: 'INFO' },
  });
  apiUrl = h.stack.apiUrl;
}, 120_000);

afterAll(async () => {
  await h?.close();
  await pages?.close();
});

describe('a bad value in every caller-input field: a named permanent code or a browser-like render, on the first receive', () => {
  let settled: Map<string, ScreenshotStatus>;
  let ids: string[];

  beforeAll(async () => {
    ids = await submitAll(ROWS.map((row) => row.body(pages.origin)));
    settled = await settleAll(apiUrl, ids, 240_000);
  }, 300_000);

  for (const [i, row] of ROWS.entries()) {
    it(row.field, () => {
      const status = settled.get(ids[i]!);
      if (row.expect === 'done') {
        expect(status?.status, JSON.stringify(status)).toBe('done');
      } else {
        expect(status?.status, JSON.stringify(status)).toBe('failed');
        expect(status?.error?.code, JSON.stringify(status)).toBe(row.expect.code);
        expect(status?.error?.message).toMatch(row.expect.message);
      }
      const counts = receiveCounts(ids[i]!);
      expect(counts.length, 'the worker logged the job').toBeGreaterThan(0);
      expect(Math.max(...counts), 'settled on its first receive').toBe(1);
    });
  }

  it('compareTo: an earlier screenshot that failed after this one was accepted', async () => {
    // The earlier job is queued when this one is accepted (the API lets that pass) and has
    // failed by the time this one compares: a permanent compare_unavailable, not a retry.
    const [earlier] = await submitAll([{ url: `${pages.origin}/page`, scripts: ['throw new Error("earlier fails")'] }]);
    const [later] = await submitAll([{ url: `${pages.origin}/page`, compareTo: earlier, delay: 4000 }]);
    const both = await settleAll(apiUrl, [earlier!, later!], 120_000);
    expect(both.get(earlier!)?.status).toBe('failed');
    const status = both.get(later!);
    expect(status?.status, JSON.stringify(status)).toBe('failed');
    expect(status?.error?.code).toBe('compare_unavailable');
    expect(status?.error?.message).toMatch(/that screenshot failed \(script_error\); compare with a done one/);
    expect(Math.max(...receiveCounts(later!))).toBe(1);
  }, 150_000);
});
