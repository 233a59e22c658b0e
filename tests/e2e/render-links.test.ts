// Signed render links over the real local stack: GET /render renders, redirects to the image, then
// answers from the cache without a second render; a link that is not valid is a 403.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINK_IMAGE_CACHE_CONTROL } from '../../lib/api/link-renders.js';
import { signRenderLink } from '../../lib/api/render-links.js';
import type { LocalStack } from '../../local/stack.js';
import { decodePng, near } from '../support/images.js';
import { hangingPage, html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';

const SECRET = 'test-secret-0123456789abcdef';
const SECRETS = `k1:${SECRET},k2:another-secret-0123456789`;
let pages: PageServer;
let stack: LocalStack;

beforeAll(async () => {
  pages = await servePages({
    '/teal': html('<div style="width:100vw;height:100vh;background:#088"></div>'),
    '/orange': html('<div style="width:100vw;height:100vh;background:#f80"></div>'),
    '/hang': hangingPage,
  });
  stack = await startTestStack({ allow: [pages.hostPort], env: { URL2PNG_RENDER_LINK_SECRETS: SECRETS } });
  // The first job launches Chromium (seconds on a loaded machine): not what these tests are about.
  const { json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/orange`, width: 320, height: 200 });
  await waitForSettled(String(json.statusUrl), 60_000);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
});

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;
const sign = (fields: Record<string, unknown>, key = { keyId: 'k1', secret: SECRET, expires: inAnHour() }) =>
  signRenderLink(stack.apiUrl, fields, key);
const get = (link: string, headers: Record<string, string> = {}) => fetch(link, { redirect: 'manual', headers });

async function errorOf(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

describe('GET /render (signed render links)', () => {
  it('a link from `url2png link` renders, redirects to the image, then serves it from the cache without a second render', async () => {
    const { stdout } = await promisify(execFile)(
      'node',
      ['bin/url2png.js', 'link', `${pages.origin}/teal`, '--width', '400', '--height', '300', '--ttl', '600', '--endpoint', stack.apiUrl],
      { env: { ...process.env, URL2PNG_RENDER_LINK_SECRETS: SECRETS } },
    );
    const link = stdout.trim();
    expect(link).toMatch(/\/render\?cache=600&expires=\d+&height=300&keyId=k1&url=.*&width=400&signature=[0-9a-f]{64}$/);

    const first = await get(link);
    expect(first.status).toBe(302);
    expect(first.headers.get('x-url2png-cache')).toBe('miss');
    const target = first.headers.get('location')!;
    const image = await fetch(target);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    // S3 answers a presigned GET with the response-cache-control it was signed with (AWS: GetObject,
    // "Overriding response header values"); the emulator may not, so the signed URL is checked too.
    expect(new URL(target).searchParams.get('response-cache-control')).toBe(LINK_IMAGE_CACHE_CONTROL);
    const pixels = decodePng(new Uint8Array(await image.arrayBuffer()));
    expect([pixels.width, pixels.height]).toEqual([400, 300]);
    expect(near(pixels.at(200, 150), [0, 0x88, 0x88])).toBe(true);

    const again = await get(link);
    expect(again.status).toBe(302);
    expect(again.headers.get('x-url2png-cache')).toBe('hit');
    expect(again.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    expect(Number(/max-age=(\d+)/.exec(again.headers.get('cache-control')!)![1])).toBeLessThanOrEqual(600);
    const cachedPixels = decodePng(new Uint8Array(await (await fetch(again.headers.get('location')!)).arrayBuffer()));
    expect(near(cachedPixels.at(10, 10), [0, 0x88, 0x88])).toBe(true);
    expect(pages.hits.get('/teal')).toBe(1);
    // As an <img src> would: fetch follows the redirect to the bytes.
    const followed = await fetch(link);
    expect(followed.headers.get('content-type')).toBe('image/png');
    expect(pages.hits.get('/teal')).toBe(1);
  });

  it('a link whose page is not ready within the wait answers 503 with Retry-After, and fetching it again waits for the same job', async () => {
    const link = sign({ url: `${pages.origin}/hang`, width: 320, height: 200 });
    const first = await get(link, { prefer: 'wait=1' });
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('5');
    const body = (await first.json()) as { error: { code: string }; id: string };
    expect(body.error.code).toBe('not_ready');
    const second = await get(link, { prefer: 'wait=1' });
    expect(second.status).toBe(503);
    expect(((await second.json()) as { id: string }).id).toBe(body.id);
  });

  it('a link whose page cannot be captured answers 422 with the error', async () => {
    const res = await get(sign({ url: 'http://no-such-host.invalid/' }));
    expect(res.status).toBe(422);
    expect((await errorOf(res)).code).toBe('dns_not_found');
  });

  it('tampered, expired, unknown-key and unsigned links answer 403', async () => {
    const link = new URL(sign({ url: `${pages.origin}/orange`, width: 320, height: 200 }));

    const tampered = new URL(link);
    tampered.searchParams.set('width', '321');
    const changed = await get(tampered.href);
    expect(changed.status).toBe(403);
    expect(await errorOf(changed)).toMatchObject({ code: 'invalid_signature', message: expect.stringMatching(/a parameter was changed/) });

    const added = new URL(link);
    added.searchParams.set('fullPage', 'true');
    expect((await get(added.href)).status).toBe(403);

    const repeated = new URL(link);
    repeated.searchParams.append('width', '320');
    expect((await get(repeated.href)).status).toBe(403);

    const forged = new URL(link);
    forged.searchParams.set('signature', '0'.repeat(64));
    expect((await get(forged.href)).status).toBe(403);

    const unsigned = new URL(link);
    unsigned.searchParams.delete('signature');
    expect(await errorOf(await get(unsigned.href))).toMatchObject({ code: 'invalid_signature' });

    const expired = sign({ url: `${pages.origin}/orange` }, { keyId: 'k1', secret: SECRET, expires: Math.floor(Date.now() / 1000) - 5 });
    const expiredRes = await get(expired);
    expect(expiredRes.status).toBe(403);
    expect((await errorOf(expiredRes)).code).toBe('link_expired');

    const unknown = sign({ url: `${pages.origin}/orange` }, { keyId: 'k9', secret: SECRET, expires: inAnHour() });
    const unknownRes = await get(unknown);
    expect(unknownRes.status).toBe(403);
    expect((await errorOf(unknownRes)).code).toBe('unknown_key');

    // A valid signature by another key id's secret is not k1's.
    const wrongSecret = sign({ url: `${pages.origin}/orange` }, { keyId: 'k1', secret: 'another-secret-0123456789', expires: inAnHour() });
    expect((await get(wrongSecret)).status).toBe(403);

    // None of them rendered anything.
    expect(pages.hits.get('/orange')).toBe(1); // the warm-up's
  });

  it('a valid link with a request mistake is a 400 that says what to change', async () => {
    const badWidth = await get(sign({ url: `${pages.origin}/orange`, width: 10 }));
    expect(badWidth.status).toBe(400);
    expect((await errorOf(badWidth)).message).toMatch(/width must be at least 320/);
    const uncached = await get(sign({ url: `${pages.origin}/orange`, cache: false }));
    expect(uncached.status).toBe(400);
    expect((await errorOf(uncached)).message).toMatch(/render links are always cached/);
  });
});
