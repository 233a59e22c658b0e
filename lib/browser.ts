// Find, launch, reuse, health-check and relaunch Chromium. One browser per process (per Lambda
// container), every request it makes forced through the egress proxy.
import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser } from 'puppeteer-core';
import type { EgressProxy } from './egress.js';

export interface BrowserSettings {
  /** An explicit binary (e.g. Debian's chromium-headless-shell); default: @sparticuz/chromium's. */
  executablePath?: string;
  /** Keep @sparticuz/chromium's --single-process: no incognito contexts, one page hang stalls all. */
  singleProcess: boolean;
  proxy: Pick<EgressProxy, 'url'>;
}

// sparticuz's defaults that a screenshot service must not run with: web security off would let a
// rendered page read other tabs; insecure content would let https pages pull http subresources.
const DROPPED_ARGS = new Set(['--disable-web-security', '--allow-running-insecure-content']);
const SINGLE_PROCESS_ARGS = new Set(['--single-process', '--no-zygote']);

export function chromiumArgs(settings: BrowserSettings): string[] {
  chromium.setGraphicsMode = false; // SwiftShader made image-heavy pages 2.5x slower (field notes)
  const base = chromium.args.filter(
    (arg) =>
      !DROPPED_ARGS.has(arg) &&
      !arg.startsWith('--headless') &&
      (settings.singleProcess || !SINGLE_PROCESS_ARGS.has(arg)),
  );
  return [
    ...base,
    `--proxy-server=${settings.proxy.url}`,
    // Without this Chrome sends loopback traffic around the proxy.
    '--proxy-bypass-list=<-loopback>',
    '--block-new-web-contents',
    '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
    '--webrtc-ip-handling-policy=disable_non_proxied_udp',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
  ];
}

export async function resolveExecutable(explicit?: string): Promise<string> {
  return explicit ?? (await chromium.executablePath());
}

/** Holds the one browser of this process and replaces it when it dies. */
export class BrowserHost {
  private browser: Browser | undefined;
  private launching: Promise<Browser> | undefined;
  launches = 0;

  constructor(private readonly settings: BrowserSettings) {}

  get singleProcess(): boolean {
    return this.settings.singleProcess;
  }

  /** A connected browser: the running one, or a fresh launch if it died or never started. */
  async get(): Promise<Browser> {
    if (this.browser?.connected) return this.browser;
    this.browser = undefined;
    this.launching ??= this.launch().finally(() => {
      this.launching = undefined;
    });
    return this.launching;
  }

  private async launch(): Promise<Browser> {
    const browser = await puppeteer.launch({
      executablePath: await resolveExecutable(this.settings.executablePath),
      args: chromiumArgs(this.settings),
      headless: 'shell',
      pipe: true, // no DevTools port for a rendered page to find
      defaultViewport: null,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      protocolTimeout: 30_000,
    });
    this.launches++;
    browser.once('disconnected', () => {
      if (this.browser === browser) this.browser = undefined;
    });
    this.browser = browser;
    return browser;
  }

  /** For a browser that no longer answers: SIGKILL, so the next get() launches a new one. */
  kill(): void {
    const browser = this.browser;
    this.browser = undefined;
    browser?.process()?.kill('SIGKILL');
  }

  async close(): Promise<void> {
    const browser = this.browser ?? (await this.launching?.catch(() => undefined));
    this.browser = undefined;
    if (!browser) return;
    const closed = browser.close().catch(() => undefined);
    const timer = new Promise((r) => setTimeout(r, 3000).unref());
    if ((await Promise.race([closed.then(() => 'closed'), timer])) !== 'closed') {
      browser.process()?.kill('SIGKILL');
    }
  }
}
