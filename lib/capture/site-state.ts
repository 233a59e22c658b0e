// Single-process Chromium has no browser contexts: every job's page shares one cookie jar, HTTP
// cache, localStorage/IndexedDB, Cache Storage and service workers. Jobs there run one at a time
// (lib/worker/worker-runtime.ts), and after each one everything a site could have stored is
// cleared, so no job sees what a site set for the one before (a tenant's login, a site's cookie).
// The HTTP authentication cache has no DevTools method to clear it: in that mode `authentication`
// is refused instead (lib/capture/render.ts).
import type { Page } from 'puppeteer-core';

/** The http(s) origins a page makes requests to (documents, frames, sub-resources, workers' scripts). */
export function trackOrigins(page: Page): Set<string> {
  const origins = new Set<string>();
  page.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('http://') || url.startsWith('https://')) origins.add(new URL(url).origin);
  });
  return origins;
}

/**
 * Clears the browser's cookies and HTTP cache, and every origin's storage (local and session
 * storage, IndexedDB, Cache Storage, service workers, ...). Throws if the browser did not answer:
 * the caller then ends the browser, which takes the state with it.
 */
export async function clearSiteState(page: Page, origins: Iterable<string>): Promise<void> {
  const cdp = await page.createCDPSession();
  try {
    await cdp.send('Network.clearBrowserCookies');
    await cdp.send('Network.clearBrowserCache');
    for (const origin of origins) await cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' });
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}
