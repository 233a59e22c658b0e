// Find, launch, reuse, health-check and relaunch Chromium. One browser per process (per Lambda
// container), every request it makes forced through the egress proxy.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser } from 'puppeteer-core';
import type { EgressProxy } from '../egress/egress.js';
import { TUNING } from '../contract/tuning.js';

export interface BrowserSettings {
  /** An explicit binary (e.g. Debian's chromium-headless-shell); default: @sparticuz/chromium's. */
  executablePath?: string;
  /** Keep @sparticuz/chromium's --single-process: no incognito contexts, one page hang stalls all. */
  singleProcess: boolean;
  proxy: Pick<EgressProxy, 'url'>;
  /** JavaScript heap of one renderer in MB (default: tuning.json rendererHeapMb). */
  rendererHeapMb?: number;
  /** Where each launch gets its own profile and TMPDIR (removed when that browser exits). */
  scratchRoot?: string;
  /** Browser lifecycle events (launch, disconnect, kill), for the worker's log. */
  onEvent?: (event: 'launched' | 'disconnected' | 'killed', detail: Record<string, unknown>) => void;
}

/** Default parent of the per-launch scratch directories (Lambda: /tmp, 512 MB-10 GB, reused). */
export const DEFAULT_SCRATCH_ROOT = join(tmpdir(), 'url2png-chromium');

// sparticuz's defaults that a screenshot service must not run with: web security off would let a
// rendered page read other tabs; insecure content would let https pages pull http subresources.
const DROPPED_ARGS = new Set(['--disable-web-security', '--allow-running-insecure-content']);
const SINGLE_PROCESS_ARGS = new Set(['--single-process', '--no-zygote']);

export function chromiumArgs(settings: BrowserSettings): string[] {
  chromium.setGraphicsMode = false; // SwiftShader made image-heavy pages 2.5x slower when measured
  const base = chromium.args.filter(
    (arg) => !DROPPED_ARGS.has(arg) && !arg.startsWith('--headless') && (settings.singleProcess || !SINGLE_PROCESS_ARGS.has(arg)),
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
    // A page that allocates without bound crashes its own renderer early (page_crashed) instead
    // of taking the machine's memory from every other page.
    `--js-flags=--max-old-space-size=${settings.rendererHeapMb ?? TUNING.rendererHeapMb}`,
  ];
}

export async function resolveExecutable(explicit?: string): Promise<string> {
  return explicit ?? (await chromium.executablePath());
}

// What Chromium may see of this process's environment: enough to find its libraries, fonts,
// locale and time zone. Nothing else: no AWS credentials, no webhook secret, no URL2PNG_* (a
// compromised renderer could read its own environment).
const BROWSER_ENV = [
  'PATH',
  'HOME',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'TZ',
  'FONTCONFIG_PATH',
  'FONTCONFIG_FILE',
  'LD_LIBRARY_PATH',
  'XDG_CACHE_HOME',
  'XDG_CONFIG_HOME',
];

function browserEnvironment(tmp: string): Record<string, string> {
  const env: Record<string, string> = { TMPDIR: tmp };
  for (const name of BROWSER_ENV) if (process.env[name] !== undefined) env[name] = process.env[name]!;
  return env;
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
    // One directory per launch holds the profile and Chromium's own temp files (TMPDIR: the
    // .org.chromium.* shared-memory files that a SIGKILL would otherwise leave behind in /tmp).
    const root = this.settings.scratchRoot ?? DEFAULT_SCRATCH_ROOT;
    mkdirSync(root, { recursive: true });
    if (this.launches === 0) sweepStaleScratch(DEFAULT_SCRATCH_ROOT);
    const scratch = mkdtempSync(join(root, 'launch-'));
    const tmp = join(scratch, 'tmp');
    mkdirSync(tmp);
    let browser: Browser;
    try {
      const executablePath = await resolveExecutable(this.settings.executablePath);
      browser = await launchWithOneRetry(() =>
        puppeteer.launch({
          executablePath,
          args: chromiumArgs(this.settings),
          userDataDir: join(scratch, 'profile'),
          env: browserEnvironment(tmp),
          headless: 'shell',
          pipe: true, // no DevTools port for a rendered page to find
          defaultViewport: null,
          handleSIGINT: false,
          handleSIGTERM: false,
          handleSIGHUP: false,
          protocolTimeout: 30_000,
        }),
      );
    } catch (error) {
      rmSync(scratch, { recursive: true, force: true });
      throw error;
    }
    this.launches++;
    const proc = browser.process();
    const pid = proc?.pid;
    // However the browser ends (close, crash, SIGKILL), its whole process group goes and its
    // scratch directory with it: no zombie helpers, no profiles piling up in /tmp.
    const cleanup = () => {
      killGroup(pid);
      rmSync(scratch, { recursive: true, force: true });
    };
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.once('exit', cleanup);
    else cleanup();
    browser.once('disconnected', () => {
      // close() and kill() let go of the browser first: only a browser lost unasked is news.
      if (this.browser === browser) {
        this.browser = undefined;
        this.settings.onEvent?.('disconnected', { pid });
      }
      // A disconnected browser whose process lingers (wedged) is of no use to anyone.
      setTimeout(() => {
        if (proc && proc.exitCode === null && proc.signalCode === null) killGroup(pid);
      }, 1000).unref();
    });
    this.browser = browser;
    this.settings.onEvent?.('launched', { pid, launches: this.launches });
    return browser;
  }

  /** The running browser's pid (tests and diagnostics). */
  get pid(): number | undefined {
    return this.browser?.process()?.pid;
  }

  /** For a browser that no longer answers: SIGKILL its process group, so the next get() relaunches. */
  kill(reason = 'unresponsive'): void {
    const browser = this.browser;
    this.browser = undefined;
    const pid = browser?.process()?.pid;
    if (!pid) return;
    this.settings.onEvent?.('killed', { pid, reason });
    killGroup(pid);
  }

  async close(): Promise<void> {
    const browser = this.browser ?? (await this.launching?.catch(() => undefined));
    this.browser = undefined;
    if (!browser) return;
    const closed = browser.close().catch(() => undefined);
    const timer = new Promise((r) => setTimeout(r, 3000).unref());
    if ((await Promise.race([closed.then(() => 'closed'), timer])) !== 'closed') {
      killGroup(browser.process()?.pid);
    }
  }
}

/**
 * SIGKILL a browser and every helper it started. puppeteer spawns Chromium detached, so the
 * browser leads its own process group; killing the group (not just the pid) leaves no zygote or
 * renderer behind to be re-parented and left as a zombie.
 */
export function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Removes what browsers and worker processes that died without cleaning up (the Node process
 * itself SIGKILLed, a container frozen mid-job) left under the scratch root: launch-* directories
 * no running process mentions, and worker-<pid>-* directories whose process is gone. Live ones
 * (other processes share the root) are never touched. Linux /proc; elsewhere nothing is swept.
 */
export function sweepStaleScratch(root: string, minAgeMs = 60_000): number {
  let entries: string[];
  let cmdlines: string[];
  try {
    entries = readdirSync(root);
    cmdlines = readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      });
  } catch {
    return 0;
  }
  let removed = 0;
  for (const entry of entries) {
    const dir = join(root, entry);
    try {
      const worker = /^worker-(\d+)-/.exec(entry);
      const stale = worker
        ? !processAlive(Number(worker[1]))
        : entry.startsWith('launch-') && Date.now() - statSync(dir).mtimeMs > minAgeMs && !cmdlines.some((c) => c.includes(dir));
      if (stale) {
        rmSync(dir, { recursive: true, force: true });
        removed++;
      }
    } catch {
      /* raced with its owner: leave it */
    }
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A Chromium that dies while it starts (seen now and then on a busy machine, as
 * `Target.setDiscoverTargets: Target closed`) is started once more before the job fails.
 */
export async function launchWithOneRetry<T>(launch: () => Promise<T>): Promise<T> {
  try {
    return await launch();
  } catch (error) {
    if (!/Target closed|Failed to launch the browser process/i.test((error as Error)?.message ?? '')) throw error;
    return launch();
  }
}
