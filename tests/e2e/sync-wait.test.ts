// Synchronous answers over the real local stack: POST /screenshots with "wait" (or Prefer: wait=N)
// holds the request until the job settles, then answers 303 to the image; 202 when it does not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { screenshotStatusSchema } from '../../lib/contract/status.js';
import type { LocalStack } from '../../local/stack.js';
import { decodePng, near } from '../support/images.js';
import { html, neverLoadingPage, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';

let pages: PageServer;
let stack: LocalStack;

beforeAll(async () => {
  pages = await servePages({
    '/red': html('<div style="width:100vw;height:100vh;background:#d00"></div>'),
    '/green': html('<div style="width:100vw;height:100vh;background:#0a0"></div>'),
    '/cached': html('<div style="width:100vw;height:100vh;background:#00c"></div>'),
    '/slow': neverLoadingPage,
  });
  stack = await startTestStack({ allow: [pages.hostPort] });
  // The first job launches Chromium (seconds on a loaded machine): not what a 25 s wait is about.
  const { json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/green`, width: 320, height: 200 });
  await waitForSettled(String(json.statusUrl), 60_000);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${stack.apiUrl}/screenshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    redirect: 'manual',
  });

async function imageAt(location: string) {
  const res = await fetch(location);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  return decodePng(new Uint8Array(await res.arrayBuffer()));
}

describe('POST /screenshots with wait', () => {
  it('answers 303 See Other to the image once the job is done, with the done status as the body', async () => {
    const res = await post({ url: `${pages.origin}/red`, width: 400, height: 300, wait: 25 });
    expect(res.status).toBe(303);
    const body = screenshotStatusSchema.strict().parse(await res.json());
    expect(body.status).toBe('done');
    expect(res.headers.get('location')).toBe(body.imageUrl);
    expect(body.statusUrl).toBe(`${stack.apiUrl}/screenshots/${body.id}`);
    const image = await imageAt(res.headers.get('location')!);
    expect([image.width, image.height]).toEqual([400, 300]);
    expect(near(image.at(200, 150), [0xdd, 0, 0])).toBe(true);
    // Followed like any redirect (fetch's default), the one call ends at the image itself.
    const followed = await fetch(`${stack.apiUrl}/screenshots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${pages.origin}/green`, width: 320, height: 200, wait: 25 }),
    });
    expect(followed.headers.get('content-type')).toBe('image/png');
    expect(near(decodePng(new Uint8Array(await followed.arrayBuffer())).at(10, 10), [0, 0xaa, 0])).toBe(true);
  });

  it('Prefer: wait=N does the same, says Preference-Applied, and Accept: application/json gets 200 with the status', async () => {
    const res = await post({ url: `${pages.origin}/green`, width: 320, height: 200 }, { prefer: 'wait=25', accept: 'application/json' });
    expect(res.status).toBe(200);
    expect(res.headers.get('preference-applied')).toBe('wait=25');
    const body = screenshotStatusSchema.strict().parse(await res.json());
    expect(body.status).toBe('done');
    expect(near((await imageAt(body.imageUrl!)).at(5, 5), [0, 0xaa, 0])).toBe(true);
    // A longer preference is honoured as far as the service can: cut to 25 s, not refused.
    const long = await post({ url: `${pages.origin}/green`, width: 320, height: 200 }, { prefer: 'wait=600' });
    expect(long.status).toBe(303);
    expect(long.headers.get('preference-applied')).toBe('wait=25');
  });

  it('a slow page answers the usual 202 when the wait runs out', async () => {
    const t0 = Date.now();
    const res = await post({ url: `${pages.origin}/slow`, wait: 2 });
    const elapsed = Date.now() - t0;
    expect(res.status).toBe(202);
    const body = (await res.json()) as { status: string; statusUrl: string };
    expect(body.status).toBe('queued');
    expect(res.headers.get('location')).toBe(body.statusUrl);
    // It did wait (about 2 s), and it did not wait for the page's 10 s load deadline.
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(9000);
  });

  it('a job that fails within the wait answers 422 with its error', async () => {
    const res = await post({ url: 'http://no-such-host.invalid/', wait: 25 });
    expect(res.status).toBe(422);
    const body = screenshotStatusSchema.strict().parse(await res.json());
    expect(body.status).toBe('failed');
    expect(body.error?.code).toBe('dns_not_found');
  });

  it('a cache hit answers 303 at once, without a second render', async () => {
    const request = { url: `${pages.origin}/cached`, width: 320, height: 200, cache: true, wait: 25 };
    const first = await post(request);
    expect(first.status).toBe(303);
    const firstBody = (await first.json()) as { id: string; cached?: boolean };
    expect(firstBody.cached).toBeUndefined();
    const again = await post(request);
    expect(again.status).toBe(303);
    const againBody = (await again.json()) as { id: string; cached?: boolean };
    expect(againBody).toMatchObject({ id: firstBody.id, cached: true });
    expect(near((await imageAt(again.headers.get('location')!)).at(5, 5), [0, 0, 0xcc])).toBe(true);
    expect(pages.hits.get('/cached')).toBe(1);
  });

  it('a wait out of bounds is a 400 that names the limit', async () => {
    const res = await post({ url: `${pages.origin}/red`, wait: 30 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toMatch(/wait must be at most 25 seconds/);
  });
});
