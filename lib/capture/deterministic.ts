// deterministic: true, so that two captures of a page that has not changed are pixel-identical.
// Before navigation every document (and frame) of the page gets an init script: the clock frozen
// (Date, Date.now, performance.now, requestAnimationFrame's timestamp, document.timeline) at the
// job's requestedAt or the request's `now`, and Math.random replaced by a seeded generator; the page
// prefers reduced motion. Before the capture: animations and transitions off (CSS), Web Animations
// paused at their start, the caret invisible, scrollbars hidden, document.fonts.ready awaited and
// every image in the viewport (the whole page for fullPage) loaded and decoded.
// What it cannot fix: what the server sends (content that differs per request, A/B tests, ads,
// server-side randomness and times), crypto.getRandomValues/randomUUID (left alone: pages use them
// for security), timers (setTimeout/setInterval still fire in real time, so a page that counts
// frames or ticks can differ), video and canvas noise the GPU adds, and network timing.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'puppeteer-core';

/** The Math.random seed (mulberry32): every document starts the same sequence. */
const SEED = 0x2f6b5d1;

/** Runs in the page before any of its scripts. `now` in epoch ms; performance.now() stays 0. */
function freezeScript(now: number, seed: number): string {
  return `(() => {
  const NOW = ${now};
  const RealDate = Date;
  function FrozenDate(...args) {
    if (!new.target) return new RealDate(NOW).toString();
    return args.length ? new RealDate(...args) : new RealDate(NOW);
  }
  FrozenDate.prototype = RealDate.prototype;
  FrozenDate.now = () => NOW;
  FrozenDate.parse = RealDate.parse;
  FrozenDate.UTC = RealDate.UTC;
  Object.defineProperty(RealDate.prototype, 'constructor', { value: FrozenDate, configurable: true, writable: true });
  globalThis.Date = FrozenDate;
  Object.defineProperty(Performance.prototype, 'now', { value: () => 0, configurable: true, writable: true });
  try { Object.defineProperty(AnimationTimeline.prototype, 'currentTime', { get: () => 0, configurable: true }); } catch {}
  const raf = globalThis.requestAnimationFrame;
  if (raf) globalThis.requestAnimationFrame = (callback) => raf.call(globalThis, () => callback(0));
  let state = ${seed} >>> 0;
  Math.random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
})();`;
}

const STILL_CSS = `*, *::before, *::after {
  animation: none !important; transition: none !important; caret-color: transparent !important; scroll-behavior: auto !important;
}
html { scrollbar-width: none !important; }
::-webkit-scrollbar { display: none !important; }`;

/** Before navigation: the init script and reduced motion. */
export async function freezePage(page: Page, nowMs: number): Promise<void> {
  await page.evaluateOnNewDocument(freezeScript(nowMs, SEED));
  await page.emulateMediaFeatures([{ name: 'prefers-reduced-motion', value: 'reduce' }]);
}

/**
 * Right before the capture: stop what still moves and wait (at most `ms`) for fonts and images.
 * `wholePage`: wait for every image, not only those in the viewport (fullPage captures).
 */
export async function stillForCapture(page: Page, wholePage: boolean, ms: number): Promise<void> {
  await page.addStyleTag({ content: STILL_CSS });
  // (An expression as a string: this project compiles without the DOM's types.)
  const settle = page.evaluate(`(async () => {
    for (const animation of document.getAnimations()) { try { animation.pause(); animation.currentTime = 0; } catch {} }
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    await document.fonts.ready;
    const visible = (img) => { const r = img.getBoundingClientRect(); return ${wholePage} || (r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth); };
    const loaded = (img) => img.complete ? Promise.resolve() : new Promise((done) => { img.addEventListener('load', done, { once: true }); img.addEventListener('error', done, { once: true }); });
    await Promise.all([...document.images].filter(visible).map((img) => loaded(img).then(() => img.decode()).catch(() => undefined)));
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  })()`);
  await Promise.race([settle.catch(() => undefined), sleep(Math.max(1, ms))]);
}
