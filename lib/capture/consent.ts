// blockCookieBanners, first half: DuckDuckGo's autoconsent answers the page's consent manager with
// "reject" / "only necessary", as a visitor who refuses would. Its content script (the bundle the
// package ships for Puppeteer and Playwright) runs in the top document before the page's scripts,
// with its rules (compact-rules.json, the package's opt-out rule set) and config carried in the
// script itself, so no message round trip is needed to start. It runs in the page's main world
// (isMainWorld: its rule snippets are evaluated in place, nothing is evaluated on its behalf from
// Node), and reports its progress through one exposed function that only records state. The
// second half, hiding the consent managers that remain, is lib/capture/blocking.ts's cosmetic rules.
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import type { Page } from 'puppeteer-core';
import { packageFile } from './package-file.js';
import { UNPROBED_KEY } from './navigation.js';

const AUTOCONSENT = '@duckduckgo/autoconsent';

const CONFIG = {
  enabled: true,
  autoAction: 'optOut',
  disabledCmps: [],
  // Known popups are hidden (opacity) while autoconsent decides, so none shows half-answered.
  enablePrehide: true,
  prehideTimeout: 2000,
  // A consent manager with no opt-out path gets hidden instead.
  enableCosmeticRules: true,
  enableGeneratedRules: true,
  enableHeuristicDetection: true,
  detectRetries: 20,
  isMainWorld: true,
  logs: { lifecycle: false, rulesteps: false, detectionsteps: false, evals: false, errors: false, messages: false, waits: false },
} as const;

/** The binding autoconsent's progress is reported through (the page can call it too: it only records state). */
const REPORT_BINDING = '__url2pngConsentReport';

let script: string | undefined;

/** The content script with its config and rules, built once per process. */
function consentScript(): string {
  if (script) return script;
  const bundle = readFileSync(packageFile(AUTOCONSENT, 'dist/autoconsent.playwright.js'), 'utf8');
  const rules = readFileSync(packageFile(AUTOCONSENT, 'rules/compact-rules.json'), 'utf8');
  // autoconsent asks for its config with an `init` message while it is constructed; the answer is
  // given from here on the next task, once its receiver exists. Every message is also reported.
  script = `(() => {
  if (window !== window.top) return;
  // autoconsent's retries and waits are no timers of the page's: they must not keep the page from counting as at rest.
  const unprobed = globalThis[Symbol.for('${UNPROBED_KEY}')] || globalThis;
  const setTimeout = unprobed.setTimeout.bind(globalThis), clearTimeout = unprobed.clearTimeout.bind(globalThis);
  const setInterval = unprobed.setInterval.bind(globalThis), clearInterval = unprobed.clearInterval.bind(globalThis);
  const init = { type: 'initResp', config: ${JSON.stringify(CONFIG)}, rules: { compact: ${rules} } };
  const report = (message) => { try { window.${REPORT_BINDING}({ type: String(message.type), lifecycle: message.state && message.state.lifecycle }); } catch {} };
  window.autoconsentSendMessage = (message) => {
    if (!message || typeof message !== 'object') return;
    report(message);
    if (message.type === 'init') setTimeout(() => window.autoconsentReceiveMessage && window.autoconsentReceiveMessage(init), 0);
  };
${bundle}
})();`;
  return script;
}

interface ConsentMessage {
  type: string;
  lifecycle?: string;
}

export interface ConsentWatch {
  /** Runs autoconsent in the document the page holds now (one written with setContent). */
  startInCurrentDocument(): Promise<void>;
  /** Waits (at most until `until`, epoch ms) for autoconsent to answer the banner or to find none. */
  settled(until: number): Promise<void>;
}

/** How long after it starts in a document autoconsent may take to recognise a consent manager before the page counts as having none. */
const DETECT_MS = 1000;
/** How long a recognised consent manager may take to show its popup. */
const POPUP_MS = 2500;
/** The longest an opt-out may run (OneTrust's settings path waits about 5 s in all). */
const OPT_OUT_MS = 8000;
const POLL_MS = 50;
const FINISHED = new Set(['nothingDetected', 'optOutSucceeded', 'optOutFailed', 'done']);

/** Installs autoconsent in every top document the page opens from now on. */
export async function answerConsentBanners(page: Page): Promise<ConsentWatch> {
  let doc = fresh();
  function fresh() {
    return { startedAt: Date.now(), detectedAt: 0, popupAt: 0, finished: false };
  }
  await page.exposeFunction(REPORT_BINDING, (message: ConsentMessage) => {
    if (!message || typeof message !== 'object') return;
    switch (message.type) {
      case 'init':
        doc = fresh(); // a new document: autoconsent starts over
        break;
      case 'cmpDetected':
        doc.detectedAt ||= Date.now();
        break;
      case 'popupFound':
        doc.popupAt ||= Date.now();
        break;
      case 'optOutResult':
      case 'autoconsentDone':
      case 'autoconsentError':
        doc.finished = true;
        break;
      case 'report':
        if (message.lifecycle && FINISHED.has(message.lifecycle)) doc.finished = true;
        break;
    }
  });
  await page.evaluateOnNewDocument(consentScript());
  return {
    async startInCurrentDocument() {
      await page.evaluate(consentScript());
    },
    async settled(until) {
      for (;;) {
        const now = Date.now();
        const d = doc;
        const waiting = d.popupAt
          ? now - d.popupAt < OPT_OUT_MS
          : d.detectedAt
            ? now - d.detectedAt < POPUP_MS
            : now - d.startedAt < DETECT_MS;
        if (d.finished || !waiting || now >= until) return;
        await sleep(POLL_MS);
      }
    },
  };
}
