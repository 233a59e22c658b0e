// Screenshots and PDFs taken through the page's own DevTools session, never through
// puppeteer's page.screenshot(). That one is serialised across the whole browser (a `guarded`
// decorator on Page.screenshot and each BrowserContext's screenshot mutex, which page.close()
// waits for too): a page whose main thread blocks while it is captured (a loop in its `resize`,
// `scroll` or `beforeprint` handler, or in a requestAnimationFrame) held every other job's capture
// until its own render deadline. Here a capture holds nothing but its own page: it is bounded by
// the job's deadline, and an abandoned one is released when lib/capture/render.ts closes the page
// (or its context), which ends whatever the session still waits for.
import type { CDPSession, Page } from 'puppeteer-core';
import { PermanentFailure, TransientFailure } from '../contract/failures.js';

export interface ImageEncoding {
  type: 'png' | 'jpeg' | 'webp';
  quality?: number;
  optimizeForSpeed?: boolean;
  omitBackground?: boolean;
}

/** Page coordinates in CSS px (beyond the viewport if need be). */
export interface Clip {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The page's primary DevTools session, the one its viewport and emulation were set on. A second
 * session (page.createCDPSession()) would capture with its own, empty, device emulation: a
 * `captureBeyondViewport` capture in it would lose the job's deviceScaleFactor.
 */
const sessionOf = (page: Page): CDPSession => (page as unknown as { _client(): CDPSession })._client();

/** Rejects with render_timeout at `until` (epoch ms); the caller closes the page, which frees the capture. */
async function beforeDeadline<T>(work: Promise<T>, until: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => undefined); // once expired, its late rejection (page closed under it) is expected
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TransientFailure('render_timeout', `the page did not answer its ${what} before the render deadline`)),
      Math.max(1, until - Date.now()),
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Puppeteer's rounding: whole pixels that still cover the asked rectangle's extent. */
function roundClip(clip: Clip): Clip {
  const x = Math.round(clip.x);
  const y = Math.round(clip.y);
  return { x, y, width: Math.round(clip.width + clip.x - x), height: Math.round(clip.height + clip.y - y) };
}

/**
 * One screenshot: the viewport when no clip is given, else the clip in page coordinates (beyond the
 * viewport). Answers the encoded image bytes.
 */
export async function captureImage(page: Page, encoding: ImageEncoding, until: number, clip?: Clip): Promise<Uint8Array> {
  const session = sessionOf(page);
  const transparent = encoding.omitBackground && encoding.type !== 'jpeg';
  const shot = (async () => {
    if (transparent) await session.send('Emulation.setDefaultBackgroundColorOverride', { color: { r: 0, g: 0, b: 0, a: 0 } });
    try {
      const { data } = await session.send('Page.captureScreenshot', {
        format: encoding.type,
        optimizeForSpeed: encoding.optimizeForSpeed ?? false,
        fromSurface: true,
        ...(encoding.quality !== undefined && encoding.type !== 'png' ? { quality: Math.round(encoding.quality) } : {}),
        ...(clip ? { clip: { ...roundClip(clip), scale: 1 } } : {}),
        captureBeyondViewport: clip !== undefined,
      });
      return new Uint8Array(Buffer.from(data, 'base64'));
    } finally {
      if (transparent) await session.send('Emulation.setDefaultBackgroundColorOverride', {}).catch(() => undefined);
    }
  })();
  return beforeDeadline(shot, until, 'screenshot');
}

/** What Page.printToPDF takes (lib/capture/pdf.ts maps the request's pdf settings onto it). */
export type PrintSettings = Record<string, unknown>;

/**
 * The page printed to PDF, read back as a stream and cut off at `maxBytes`: a document larger than
 * that is refused (page_too_large) as soon as its bytes pass the cap, not after it is all in memory.
 */
export async function printToPdf(page: Page, settings: PrintSettings, until: number, maxBytes: number): Promise<Uint8Array> {
  const session = sessionOf(page);
  const print = (async () => {
    const { stream } = (await session.send('Page.printToPDF', { ...settings, transferMode: 'ReturnAsStream' })) as { stream?: string };
    if (!stream) throw new Error('Page.printToPDF answered no stream');
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for (;;) {
        const { data, base64Encoded, eof } = await session.send('IO.read', { handle: stream, size: 1 << 20 });
        const chunk = Buffer.from(data, base64Encoded ? 'base64' : 'utf8');
        size += chunk.length;
        if (size > maxBytes) {
          throw new PermanentFailure(
            'page_too_large',
            `the PDF is larger than ${maxBytes} bytes; print fewer pages (pdf.pageRanges) or a smaller part of the page`,
          );
        }
        chunks.push(chunk);
        if (eof) break;
      }
    } finally {
      await session.send('IO.close', { handle: stream }).catch(() => undefined);
    }
    return new Uint8Array(Buffer.concat(chunks));
  })();
  return beforeDeadline(print, until, 'print to PDF');
}
