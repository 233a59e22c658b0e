// Large images within the pixel budget are stored and served: a full-page PNG of noise (which PNG
// cannot compress) of over 30 MB goes to the bucket in parts (lib/storage/upload.ts), as S3 takes
// it and as the emulator must, since it refuses any request body over 11 MiB. And an object the
// store refuses for its size fails the job at once instead of being retried into the DLQ.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentFailure } from '../../lib/contract/failures.js';
import { uploadObject } from '../../lib/storage/upload.js';
import type { LocalStack } from '../../local/stack.js';
import { servePages, type PageServer } from '../../fixtures/pages.js';
import { emulatorS3, postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';

const WIDTH = 1280;
const HEIGHT = 9000; // 11.5 megapixels of the budget's 50: ~3 bytes a pixel as a PNG of noise

// A canvas of random pixels as tall as the page (getRandomValues fills at most 64 KiB at a time).
const noisePage = `<!doctype html><html><head><style>html,body{margin:0}canvas{display:block}</style></head><body>
<canvas id="c" width="${WIDTH}" height="${HEIGHT}"></canvas>
<script>
  const c = document.getElementById('c').getContext('2d');
  const image = c.createImageData(${WIDTH}, ${HEIGHT});
  for (let i = 0; i < image.data.length; i += 65536) crypto.getRandomValues(image.data.subarray(i, i + 65536));
  for (let i = 3; i < image.data.length; i += 4) image.data[i] = 255;
  c.putImageData(image, 0, 0);
</script></body></html>`;

let pages: PageServer;
let stack: LocalStack;
let s3: S3Client;

beforeAll(async () => {
  pages = await servePages({ '/noise': noisePage });
  stack = await startTestStack({ allow: [pages.hostPort], workerConcurrency: 1 });
  s3 = emulatorS3(stack.emulator);
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await stack?.stop();
  await pages?.close();
});

/** Width and height from a PNG's IHDR chunk. */
const pngSize = (bytes: Uint8Array) => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
};

describe('large objects', () => {
  it(`a ${WIDTH} x ${HEIGHT} full-page PNG of noise (over 30 MB) is stored in parts and served`, async () => {
    const { res, json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/noise`, width: WIDTH, height: 800, fullPage: true });
    expect(res.status).toBe(202);
    const status = await waitForSettled(json.statusUrl as string, 400_000);
    expect(status.error).toBeUndefined();
    expect(status.status).toBe('done');
    const image = new Uint8Array(await (await fetch(status.imageUrl!)).arrayBuffer());
    expect(image.byteLength).toBeGreaterThan(30 * 1024 * 1024);
    expect(Buffer.from(image.subarray(1, 4)).toString()).toBe('PNG');
    expect(pngSize(image)).toEqual({ width: WIDTH, height: HEIGHT });
    // It went up as a multipart upload (the run's call log, local/aws-sdk-hooks.ts), by the worker.
    const log = process.env.URL2PNG_AWS_CALL_LOG;
    if (log && existsSync(log)) {
      const calls = readdirSync(log)
        .flatMap((f) => readFileSync(join(log, f), 'utf8').split('\n').filter(Boolean))
        .map((l) => JSON.parse(l) as { function: string; command: string; resource: string })
        .filter((c) => c.resource.includes(`images/${json.id}`));
      expect(calls.filter((c) => c.command === 'UploadPart').length).toBeGreaterThanOrEqual(4);
      expect(calls.filter((c) => c.command === 'CompleteMultipartUpload').map((c) => c.function)).toEqual(['worker']);
    }
  }, 480_000);

  it('20 MiB in parts through the emulator that refuses 11 MiB in one request', async () => {
    const body = new Uint8Array(20 * 1024 * 1024).map((_, i) => i % 251);
    const Key = 'images/parts-test.bin';
    await uploadObject(s3, { Bucket: stack.emulator.bucket, Key, Body: body, ContentType: 'application/octet-stream' });
    const back = await (await s3.send(new GetObjectCommand({ Bucket: stack.emulator.bucket, Key }))).Body!.transformToByteArray();
    expect(back.byteLength).toBe(body.byteLength);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(body))).toBe(0);
  }, 120_000);

  it('an object the store refuses for its size (the emulator: 413 over 11 MiB in one request) is a permanent page_too_large', async () => {
    // One 12 MiB part: the size every delivery would send again.
    const failure = await uploadObject(
      s3,
      { Bucket: stack.emulator.bucket, Key: 'images/too-large.bin', Body: new Uint8Array(12 * 1024 * 1024), ContentType: 'image/png' },
      16 * 1024 * 1024,
    ).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PermanentFailure);
    expect(failure).toMatchObject({ code: 'page_too_large', message: expect.stringMatching(/12\.0 MB.*larger than the store accepts/) });
  }, 120_000);
});
