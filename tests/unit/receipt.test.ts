// Receipts without a browser: canonical JSON, signing and verifying, withheld secrets, and the
// local signing key (created once in the data directory, shared by every process).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newJob } from '../../lib/contract/job.js';
import { buildReceipt, canonicalJson, signReceipt, verifyReceipt, type CaptureFacts } from '../../lib/receipts/receipt.js';
import { LOCAL_KEY_FILE, receiptKeyLoader } from '../../lib/receipts/receipt-key.js';

const dirs: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'url2png-receipt-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const cfg = (dir: string) => ({ region: 'us-east-1', awsEndpoint: undefined, receiptKeyParameter: '', dataDir: dir });
const facts: CaptureFacts = {
  finalUrl: 'https://example.com/after',
  httpStatus: 200,
  connections: [
    { host: 'example.com', port: 443, address: '93.184.215.14' },
    { host: 'cdn.example.com', port: 443, address: '93.184.215.14' },
  ],
  browser: 'HeadlessChrome/143.0.0.0',
  startedAt: '2026-01-01T00:00:01.000Z',
  capturedAt: '2026-01-01T00:00:02.000Z',
};
const image = { bytes: new Uint8Array([1, 2, 3, 4]), contentType: 'image/png' };

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops whitespace, so layout and member order do not change what is signed', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });
});

describe('receipts', async () => {
  const key = await receiptKeyLoader(cfg(dataDir()))();
  const job = newJob('https://example.com/', { callbackUrl: 'https://hooks.example.com/x?token=secret' });
  const receipt = signReceipt(buildReceipt(job, image, facts), key);

  it('hold the request without its secrets, the distinct addresses and the image digest', () => {
    expect(receipt.request.options).not.toHaveProperty('callbackUrl');
    // A commitment keyed with the job's secret salt, not a bare hash anyone could test guesses against.
    expect(receipt.request.withheld.callbackUrl).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(receipt)).not.toContain('secret');
    expect(receipt.addresses).toEqual(['93.184.215.14']);
    expect(receipt.connections!.map((c) => c.host)).toEqual(['cdn.example.com', 'example.com']);
    expect(receipt.image).toEqual({
      sha256: '9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a',
      bytes: 4,
      contentType: 'image/png',
    });
  });

  it('verify with the right key and image, whatever the file layout', () => {
    const reparsed = JSON.parse(JSON.stringify(receipt, null, 2));
    expect(verifyReceipt(reparsed, key, image.bytes).every((c) => c.ok)).toBe(true);
  });

  it('fail when any field, the image or the key differs', () => {
    const changed = { ...receipt, finalUrl: 'https://example.com/aftes' };
    expect(verifyReceipt(changed, key).find((c) => c.name === 'signature')?.ok).toBe(false);
    const added = { ...receipt, note: 'added later' };
    expect(verifyReceipt(added, key).find((c) => c.name === 'signature')?.ok).toBe(false);
    expect(verifyReceipt(receipt, key, new Uint8Array([1, 2, 3, 5])).find((c) => c.name === 'image')?.ok).toBe(false);
    expect(verifyReceipt(receipt, key, new Uint8Array([1, 2, 3])).find((c) => c.name === 'image')?.ok).toBe(false);
    expect(verifyReceipt({ hello: 'world' }, key)).toEqual([expect.objectContaining({ name: 'format', ok: false })]);
  });

  it('fail against another key', async () => {
    const other = await receiptKeyLoader(cfg(dataDir()))();
    const checks = verifyReceipt(receipt, other, image.bytes);
    expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['key', 'signature']);
  });
});

describe('the local signing key', () => {
  it('is created once in the data directory (private to its owner) and reused by every later loader', async () => {
    const dir = join(dataDir(), 'nested');
    const [a, b] = await Promise.all([receiptKeyLoader(cfg(dir))(), receiptKeyLoader(cfg(dir))()]);
    expect(a.keyId).toBe(b.keyId);
    expect(a.keyId).toMatch(/^ed25519:[0-9a-f]{32}$/);
    const file = join(dir, LOCAL_KEY_FILE);
    expect(readFileSync(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect((await receiptKeyLoader(cfg(dir))()).keyId).toBe(a.keyId);
  });

  it('refuses a key file that is not Ed25519 with a transient receipt_key_unavailable', async () => {
    const dir = dataDir();
    writeFileSync(join(dir, LOCAL_KEY_FILE), 'not a key');
    await expect(receiptKeyLoader(cfg(dir))()).rejects.toMatchObject({ code: 'receipt_key_unavailable', name: 'TransientFailure' });
  });
});
