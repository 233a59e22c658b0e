// Signed capture receipts through the local stack (real emulator, worker, Chromium, egress proxy):
// what a receipt records, that `npx url2png verify` accepts it, and that one changed byte of the
// image or of the receipt makes verification fail.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot, startTestStack } from '../support/stack.js';
import { runCli } from '../surfaces/support.js';
import { shoot } from '../options/shoot.js';
import type { ErrorBody } from '../../lib/contract/problem.js';

let pages: PageServer;
let other: PageServer;
let stack: LocalStack;
let dir: string;

beforeAll(async () => {
  pages = await servePages({
    '/page': html('<h1>evidence</h1>'),
    '/moved': (_req, res) => res.writeHead(302, { location: '/page' }).end(),
    '/gone': (_req, res) => res.writeHead(410, { 'content-type': 'text/html' }).end(html('<h1>gone</h1>')),
    // Slow enough that two jobs overlap in the one worker.
    '/slow': (_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(html('<p>slow</p>')), 700),
  });
  other = await servePages({
    '/slow': (_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(html('<p>other</p>')), 700),
  });
  stack = await startTestStack({ allow: [pages.hostPort, other.hostPort], workerConcurrency: 2 });
  dir = mkdtempSync(join(process.env.URL2PNG_TEST_SCRATCH ?? tmpdir(), 'receipts-'));
});

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
  await other?.close();
  rmSync(dir, { recursive: true, force: true });
});

const receiptOf = async (id: string) => {
  const res = await fetch(`${stack.apiUrl}/screenshots/${id}/receipt`);
  expect(res.status).toBe(200);
  return { text: await res.text(), contentType: res.headers.get('content-type') };
};

describe('a done job has a signed receipt', () => {
  it('records the request, the final URL after a redirect, the status, the address connected to, the image hash and the times; url2png verify accepts it and rejects one changed byte', async () => {
    const shot = await shoot(stack.apiUrl, { url: `${pages.origin}/moved`, width: 640, height: 400 });
    const id = shot.status.id;
    const { text, contentType } = await receiptOf(id);
    expect(contentType).toMatch(/application\/json/);
    const receipt = JSON.parse(text);
    expect(receipt).toMatchObject({
      type: 'url2png.capture-receipt/v1',
      jobId: id,
      request: { url: `${pages.origin}/moved`, options: { width: 640, height: 400, format: 'png' }, withheld: {} },
      finalUrl: `${pages.origin}/page`,
      httpStatus: 200,
      addresses: ['127.0.0.1'],
      connections: [{ host: '127.0.0.1', port: pages.port, address: '127.0.0.1' }],
      image: { bytes: shot.bytes.length, contentType: 'image/png' },
      signature: { algorithm: 'Ed25519' },
    });
    expect(receipt.browser).toMatch(/Chrom/);
    const times = [receipt.requestedAt, receipt.startedAt, receipt.capturedAt].map(Date.parse);
    expect(times.every(Number.isFinite)).toBe(true);
    expect(times).toEqual([...times].sort((a, b) => a - b));

    const key = await fetch(`${stack.apiUrl}/receipt-key`);
    expect(key.status).toBe(200);
    const keyDoc = (await key.json()) as { algorithm: string; keyId: string; publicKey: string };
    expect(keyDoc).toMatchObject({ algorithm: 'Ed25519', keyId: receipt.signature.keyId });
    expect(keyDoc.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);

    const receiptFile = join(dir, 'receipt.json');
    const imageFile = join(dir, 'image.png');
    const keyFile = join(dir, 'key.json');
    writeFileSync(receiptFile, text);
    writeFileSync(imageFile, shot.bytes);
    writeFileSync(keyFile, JSON.stringify(keyDoc));

    // Against the service's key, fetched from --endpoint.
    const online = await runCli(['verify', receiptFile, imageFile, '--endpoint', stack.apiUrl]);
    expect(online.code, online.stderr + online.stdout).toBe(0);
    expect(online.stdout).toMatch(/ok {3}signature/);
    expect(online.stdout).toMatch(/VERIFIED\. What this proves:/);
    expect(online.stdout).toMatch(/What it does not prove:/);
    expect(online.stdout).toContain(receipt.image.sha256);

    // One byte of the image changed (in the middle, where the pixel data is); offline, with the saved key.
    const image = Buffer.from(shot.bytes);
    image[image.length >> 1]! ^= 0x01;
    const badImage = join(dir, 'bad-image.png');
    writeFileSync(badImage, image);
    const imageChanged = await runCli(['verify', receiptFile, badImage, '--key', keyFile, '--json']);
    expect(imageChanged.code).toBe(1);
    expect(JSON.parse(imageChanged.stdout)).toMatchObject({
      verified: false,
      checks: [
        { name: 'key', ok: true },
        { name: 'signature', ok: true },
        { name: 'image', ok: false },
      ],
    });

    // One byte of the receipt changed: a digit of the status (200 -> 201).
    expect(text).toContain('"httpStatus":200');
    const badReceipt = join(dir, 'bad-receipt.json');
    writeFileSync(badReceipt, text.replace('"httpStatus":200', '"httpStatus":201'));
    const receiptChanged = await runCli(['verify', badReceipt, imageFile, '--key', keyFile]);
    expect(receiptChanged.code).toBe(1);
    expect(receiptChanged.stdout).toMatch(/FAIL signature/);
    expect(receiptChanged.stdout).toMatch(/NOT VERIFIED/);
  });

  it("records the page's own error status, and each of two overlapping jobs names only the server it reached", async () => {
    const gone = await shoot(stack.apiUrl, { url: `${pages.origin}/gone`, width: 640, height: 400 });
    expect(JSON.parse((await receiptOf(gone.status.id)).text)).toMatchObject({ httpStatus: 410, finalUrl: `${pages.origin}/gone` });

    const [a, b] = await Promise.all([
      shoot(stack.apiUrl, { url: `${pages.origin}/slow`, width: 640, height: 400 }),
      shoot(stack.apiUrl, { url: `${other.origin}/slow`, width: 640, height: 400 }),
    ]);
    const ra = JSON.parse((await receiptOf(a.status.id)).text);
    const rb = JSON.parse((await receiptOf(b.status.id)).text);
    expect(ra.connections).toEqual([{ host: '127.0.0.1', port: pages.port, address: '127.0.0.1' }]);
    expect(rb.connections).toEqual([{ host: '127.0.0.1', port: other.port, address: '127.0.0.1' }]);
    // They did overlap: each started before the other was captured.
    expect(Date.parse(ra.startedAt)).toBeLessThan(Date.parse(rb.capturedAt));
    expect(Date.parse(rb.startedAt)).toBeLessThan(Date.parse(ra.capturedAt));
  });

  it('answers 400 for a malformed id, 404 for an unknown one and 409 while the job is not done', async () => {
    const malformed = await fetch(`${stack.apiUrl}/screenshots/nope/receipt`);
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as ErrorBody).error.code).toBe('invalid_id');
    const unknown = await fetch(`${stack.apiUrl}/screenshots/00000000-0000-4000-8000-000000000000/receipt`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const { json } = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/slow`, width: 640, height: 400, delay: 3000 });
    const early = await fetch(`${stack.apiUrl}/screenshots/${json.id}/receipt`);
    expect(early.status).toBe(409);
    expect(((await early.json()) as ErrorBody).error).toMatchObject({ code: 'not_done', message: expect.stringMatching(/queued/) });
  });
});
