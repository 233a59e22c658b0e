// A job's page: a browser context of its own (cookies, storage and cache kept apart), whose traffic
// goes to a proxy port of its own (so the connections its receipt names are its own), and one such
// page opened ahead for the next job. A new context and page cost Chromium a renderer process and
// 145–160 ms on this project's 2-core machine (timed step by step: docs/benchmarks.md), the largest
// part of a warm render of a simple page; a job that finds one ready does not wait for it. The CPU
// is the same: every job still gets a page no other job has used.
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import type { EgressProxy, EgressSession } from '../egress/egress.js';

export interface IsolatedPage {
  page: Page;
  /** Absent in single-process Chromium, which cannot make contexts: its page is in the default one. */
  context?: BrowserContext;
  /** The job's own proxy port; absent without a proxy and in single-process Chromium. */
  session?: EgressSession;
}

type SessionOpener = Pick<EgressProxy, 'openSession'>;

export async function openIsolatedPage(browser: Browser, singleProcess: boolean, proxy?: SessionOpener): Promise<IsolatedPage> {
  // Single-process Chromium has no contexts, so no per-job proxy: its receipts name no addresses.
  const session = proxy && !singleProcess ? await proxy.openSession() : undefined;
  let context: BrowserContext | undefined;
  try {
    // With a session, the context's traffic goes to the job's own proxy port; the bypass list must
    // be repeated (a context's proxy replaces the browser's), or loopback would go around the proxy.
    context = singleProcess
      ? undefined
      : await browser.createBrowserContext(session ? { proxyServer: session.url, proxyBypassList: ['<-loopback>'] } : {});
    const page = await (context ?? browser).newPage();
    return { page, context, session };
  } catch (error) {
    await context?.close().catch(() => undefined);
    await session?.close();
    throw error;
  }
}

/** Closes a page nobody took: its context, then its proxy port. */
async function discard({ page, context, session }: IsolatedPage): Promise<void> {
  await (context ? context.close() : page.close()).catch(() => undefined);
  await session?.close();
}

/**
 * Isolated pages (never single-process), each taken once, with the next one opened ahead. At most
 * one page waits at a time, so a worker holds one renderer more than its jobs need.
 */
export class PageReserve {
  #ahead: { browser: Browser; opened: Promise<IsolatedPage | undefined> } | undefined;
  readonly #crashed = new WeakSet<Page>();
  #closed = false;

  constructor(private readonly proxy?: SessionOpener) {}

  /** A page of `browser` no job has used: the one opened ahead if it is whole, else a new one. */
  async take(browser: Browser): Promise<IsolatedPage> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    let ready: IsolatedPage | undefined;
    if (ahead?.browser === browser) ready = await ahead.opened;
    else if (ahead) void ahead.opened.then((p) => p && discard(p)); // a browser since killed or relaunched
    // A renderer that crashed while the page waited would fail the job as the page's own crash.
    if (ready && (ready.page.isClosed() || this.#crashed.has(ready.page) || !browser.connected)) {
      void discard(ready);
      ready = undefined;
    }
    const taken = ready ?? (await openIsolatedPage(browser, false, this.proxy));
    this.#openAhead(browser);
    return taken;
  }

  /** Closes the page waiting, if any, and opens no more. */
  async close(): Promise<void> {
    this.#closed = true;
    const ahead = this.#ahead;
    this.#ahead = undefined;
    const page = await ahead?.opened;
    if (page) await discard(page);
  }

  #openAhead(browser: Browser): void {
    if (this.#closed || this.#ahead || !browser.connected) return;
    const opened = openIsolatedPage(browser, false, this.proxy).then(
      (isolated) => {
        isolated.page.once('error', () => this.#crashed.add(isolated.page));
        return isolated;
      },
      () => undefined, // the next take opens its own, and says why if that fails too
    );
    this.#ahead = { browser, opened };
  }
}
