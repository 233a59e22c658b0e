// The worker's render path without the queue: an egress guard for `allow`, the real egress proxy
// and a multi-process browser host with its own scratch directory, for tests that call
// renderScreenshot directly. `resolver` maps names to the fixture server in that test only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserHost } from '../../lib/capture/browser.js';
import { EgressGuard, startEgressProxy, type EgressProxy, type Resolver } from '../../lib/egress/egress.js';
import { EgressAllowList } from '../../lib/egress/url-policy.js';

export interface RenderHarness {
  guard: EgressGuard;
  proxy: EgressProxy;
  host: BrowserHost;
  /** Where this host's browsers keep their profiles (their command lines name it). */
  scratchRoot: string;
  close(): Promise<void>;
}

export async function startRenderHarness(
  allow: string[],
  name: string,
  resolver?: Resolver,
  executablePath = process.env.CHROMIUM_PATH,
): Promise<RenderHarness> {
  const guard = new EgressGuard(new EgressAllowList(allow), resolver);
  const proxy = await startEgressProxy(guard);
  const scratchRoot = mkdtempSync(join(tmpdir(), `url2png-${name}-`));
  const host = new BrowserHost({ executablePath, singleProcess: false, proxy, scratchRoot });
  return {
    guard,
    proxy,
    host,
    scratchRoot,
    async close() {
      await host.close();
      await proxy.close();
      rmSync(scratchRoot, { recursive: true, force: true });
    },
  };
}
