// What a web page the developer visits (or a DNS-rebinding name) can do against a running
// `npm start`: nothing. Against the real service (its own process group, ports picked freely):
// the emulator answers only SigV4-signed requests (the per-run secret) for its own Host, with no
// Origin and no form body, and refuses object keys with dot segments; the API refuses a foreign
// Host; the data directory is 0700 with 0600 files; `--fresh` never empties a directory that is
// not the service's own.
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killGroup } from '../../lib/capture/browser.js';
import { DATA_DIR_MARKER } from '../../local/data-dir.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { eventually } from '../support/eventually.js';
import { postScreenshot, waitForSettled } from '../support/stack.js';
import { runCli } from '../surfaces/support.js';

const ROOT = join(import.meta.dirname, '../..');
const SCRATCH = process.env.URL2PNG_TEST_SCRATCH ?? tmpdir();
const BUCKET = 'url2png-local-images';
let pages: PageServer;
const groups: number[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  pages = await servePages({ '/page': html('<h1 style="background:#06c;color:#fff">local service</h1>') });
});
afterAll(async () => {
  for (const pgid of groups) killGroup(pgid);
  await pages?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const scratchDir = (prefix: string) => {
  const dir = mkdtempSync(join(SCRATCH, prefix));
  dirs.push(dir);
  return dir;
};

interface Service {
  apiUrl: string;
  emulatorUrl: string;
  output(): string;
  stop(): Promise<void>;
}

/** `npm start` (with `args`) in its own process group; resolves when it listens, or when it exits. */
async function npmStart(dataDir: string, args: string[] = []): Promise<{ service?: Service; code?: number | null; output: string }> {
  const child = spawn('npm', ['start', ...(args.length ? ['--', ...args] : [])], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, PORT: '0', URL2PNG_EMULATOR_PORT: '0', URL2PNG_EGRESS_ALLOW: pages.hostPort, URL2PNG_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  groups.push(child.pid!);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  let code: number | null | undefined;
  const exited = new Promise<void>((r) =>
    child.once('exit', (c) => {
      code = c;
      r();
    }),
  );
  await eventually(() => code !== undefined || /emulator {3}http:\/\/\S+/.test(out), Boolean, 60_000).catch(() => undefined);
  if (code !== undefined) return { code, output: out };
  const apiUrl = /url2png listening on (http:\/\/\S+)/.exec(out)?.[1];
  const emulatorUrl = /emulator {3}(http:\/\/\S+)/.exec(out)?.[1];
  expect(apiUrl && emulatorUrl, out).toBeTruthy();
  return {
    output: out,
    service: {
      apiUrl: apiUrl!,
      emulatorUrl: emulatorUrl!,
      output: () => out,
      async stop() {
        process.kill(-child.pid!, 'SIGINT');
        await exited;
      },
    },
  };
}

/** A raw HTTP request (fetch may not set Host), answering status and body. */
function raw(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Every entry under `dir`, with its permission bits. */
function modes(dir: string): { path: string; dir: boolean; mode: number }[] {
  const out = [{ path: dir, dir: true, mode: lstatSync(dir).mode & 0o777 }];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isDirectory()) out.push(...modes(path));
    else out.push({ path, dir: false, mode: stat.mode & 0o777 });
  }
  return out;
}

describe('a running npm start, attacked the way a web page could', () => {
  let dataDir: string;
  let service: Service;
  let s3: S3Client;
  /** Where a climbing key would land: a directory outside the data directory. */
  let target: string;

  beforeAll(async () => {
    dataDir = join(scratchDir('url2png-local-'), 'data');
    target = scratchDir('url2png-target-');
    const started = await npmStart(dataDir);
    expect(started.service, started.output).toBeDefined();
    service = started.service!;
    const secret = readFileSync(join(dataDir, 'emulator-secret'), 'utf8');
    s3 = new S3Client({
      region: 'us-east-1',
      endpoint: service.emulatorUrl,
      forcePathStyle: true,
      credentials: { accessKeyId: 'local', secretAccessKey: secret },
    });
  }, 90_000);
  afterAll(async () => {
    s3?.destroy();
    await service?.stop();
  });

  /** From the bucket's object directory up to the filesystem root, then down into `target`. */
  const climbingKey = () => `${'../'.repeat(20)}${target.slice(1)}/planted`;
  const planted = () => readdirSync(target);

  it('a CORS-simple multipart form POST (S3 POST Object) with a climbing key writes nothing', async () => {
    const form = new FormData();
    form.append('key', climbingKey());
    form.append('file', new Blob(['owned']), 'x.txt');
    const res = await fetch(`${service.emulatorUrl}/${BUCKET}`, { method: 'POST', body: form });
    expect(res.status).toBe(415);
    expect(await res.text()).toContain('form bodies');
    // The same from a page: the browser adds its Origin, refused before anything else.
    const fromPage = await fetch(`${service.emulatorUrl}/${BUCKET}`, {
      method: 'POST',
      body: form,
      headers: { origin: 'http://evil.example' },
    });
    expect(fromPage.status).toBe(403);
    // SNS subscribe/publish (job injection past the API) is a urlencoded form too.
    const sns = await fetch(`${service.emulatorUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3Ax&Message=job',
    });
    expect(sns.status).toBe(415);
    expect(planted()).toEqual([]);
  });

  it('unsigned or wrongly signed requests read nothing: inspection routes, queues, the bucket', async () => {
    for (const path of ['/_fauxqs/queues', '/_fauxqs/queues/url2png-local-jobs', `/${BUCKET}`, `/${BUCKET}/images/x.png`, '/health']) {
      const res = await fetch(`${service.emulatorUrl}${path}`);
      expect(res.status, path).toBe(403);
      expect(await res.text(), path).toContain('signed (SigV4) with the secret of this run');
    }
    const sqs = await fetch(`${service.emulatorUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.ListQueues' },
      body: '{}',
    });
    expect(sqs.status).toBe(403);
    expect(((await sqs.json()) as { __type: string }).__type).toBe('AccessDenied');
    // The SDK with any other secret (the fixed "local" of before) is refused too.
    const guessed = new S3Client({
      region: 'us-east-1',
      endpoint: service.emulatorUrl,
      forcePathStyle: true,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await expect(guessed.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'images/x.png' }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
    guessed.destroy();
  });

  it('even a signed request may not name a key with dot segments (path, copy source, DeleteObjects)', async () => {
    await expect(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: climbingKey(), Body: 'owned' }))).rejects.toMatchObject({
      name: 'InvalidObjectName',
    });
    await expect(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'images/./x', Body: 'owned' }))).rejects.toMatchObject({
      name: 'InvalidObjectName',
    });
    await expect(
      s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'images/copy', CopySource: `${BUCKET}/${climbingKey()}` })),
    ).rejects.toMatchObject({ name: 'InvalidObjectName' });
    await expect(
      s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: climbingKey() }] } })),
    ).rejects.toMatchObject({ name: 'InvalidObjectName' });
    expect(planted()).toEqual([]);
    // A key that only looks like one is fine.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'images/..x/a.b', Body: 'fine' }));
    expect(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'images/..x/a.b' }))).Body!.transformToString()).toBe('fine');
  });

  it('a foreign Host (DNS rebinding) is refused by the emulator, even signed, and by the API', async () => {
    const port = new URL(service.emulatorUrl).port;
    const inspect = await raw(`${service.emulatorUrl}/_fauxqs/queues/url2png-local-jobs`, { headers: { host: `rebind.example:${port}` } });
    expect(inspect.status).toBe(400);
    expect(inspect.body).toContain(`answers only requests for Host 127.0.0.1:${port}`);
    // A presigned URL made for the rebound name (a page cannot make one, but the Host check does not depend on it).
    const rebound = new S3Client({
      region: 'us-east-1',
      endpoint: `http://rebind.example:${port}`,
      forcePathStyle: true,
      credentials: await s3.config.credentials(),
    });
    const url = new URL(await getSignedUrl(rebound, new GetObjectCommand({ Bucket: BUCKET, Key: 'images/..x/a.b' })));
    rebound.destroy();
    expect((await raw(`${service.emulatorUrl}${url.pathname}${url.search}`, { headers: { host: `rebind.example:${port}` } })).status).toBe(
      400,
    );

    const apiPort = new URL(service.apiUrl).port;
    for (const [method, path] of [
      ['GET', '/devices'],
      ['POST', '/screenshots'],
      ['GET', '/'],
    ] as const) {
      const res = await raw(`${service.apiUrl}${path}`, {
        method,
        headers: { host: `rebind.example:${apiPort}`, 'content-type': 'application/json' },
        body: method === 'POST' ? JSON.stringify({ url: `${pages.origin}/page` }) : undefined,
      });
      expect(res.status, path).toBe(421);
      expect(JSON.parse(res.body).error, path).toMatchObject({
        code: 'foreign_host',
        message: expect.stringContaining(`127.0.0.1:${apiPort}`),
      });
    }
    // Its own names still work.
    expect((await raw(`${service.apiUrl}/devices`, { headers: { host: `localhost:${apiPort}` } })).status).toBe(200);
  });

  it('a job still runs end to end; its presigned image URL opens without an Origin (an <img>, a link) and not with one', async () => {
    const { res, json } = await postScreenshot(service.apiUrl, { url: `${pages.origin}/page` });
    expect(res.status).toBe(202);
    const done = await waitForSettled(String(json.statusUrl), 90_000);
    expect(done.status).toBe('done');
    const image = await fetch(done.imageUrl!);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect((await fetch(done.imageUrl!, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
    // Tampered: another key under the same signature.
    expect((await fetch(done.imageUrl!.replace('/images/', '/status/'))).status).toBe(403);
  }, 120_000);

  it('a receipt with a password, headers, cookies and scripts reveals none of them, commits to each with the caller-only salt, and verify lists every change', async () => {
    const secrets = {
      authentication: { username: 'alice', password: 'hunter2-pass' },
      headers: { 'x-api-token': 'tok-0123-secret' },
      cookies: [{ name: 'session', value: 'cookie-secret-42' }],
      scripts: ['document.body.dataset.token = "script-secret-77"'],
    };
    const { res, json } = await postScreenshot(service.apiUrl, {
      url: `${pages.origin}/page`,
      ...secrets,
      styles: ['h1 { color: red }'],
      hideSelectors: ['.ad'],
      click: 'h1',
      deterministic: true,
      now: '2030-01-01T00:00:00Z',
    });
    expect(res.status, JSON.stringify(json)).toBe(202);
    const salt = String(json.receiptSalt);
    expect(salt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const done = await waitForSettled(String(json.statusUrl), 90_000);
    expect(done.status).toBe('done');
    expect(JSON.stringify(done)).not.toContain(salt); // the salt is in the POST answer only
    const text = await (await fetch(`${service.apiUrl}/screenshots/${json.id}/receipt`)).text();
    for (const leak of ['alice', 'hunter2', 'tok-0123', 'cookie-secret', 'script-secret', salt]) expect(text).not.toContain(leak);
    const canonical = (v: unknown) => JSON.stringify(v); // these values are already in canonical (sorted-key) order
    const unsalted = createHash('sha256')
      .update(canonical({ password: 'hunter2-pass', username: 'alice' }))
      .digest('hex');
    expect(text).not.toContain(unsalted);
    const receipt = JSON.parse(text);
    expect(receipt.request.withheld).toEqual({
      authentication: `hmac-sha256:${createHmac('sha256', salt)
        .update(canonical({ password: 'hunter2-pass', username: 'alice' }))
        .digest('hex')}`,
      headers: `hmac-sha256:${createHmac('sha256', salt).update(canonical(secrets.headers)).digest('hex')}`,
      cookies: `hmac-sha256:${createHmac('sha256', salt).update(canonical(secrets.cookies)).digest('hex')}`,
      scripts: `hmac-sha256:${createHmac('sha256', salt).update(canonical(secrets.scripts)).digest('hex')}`,
    });

    const receiptFile = join(scratchDir('url2png-receipt-'), 'receipt.json');
    const imageFile = `${receiptFile}.png`;
    writeFileSync(receiptFile, text);
    writeFileSync(imageFile, new Uint8Array(await (await fetch(done.imageUrl!)).arrayBuffer()));
    const verified = await runCli(['verify', receiptFile, imageFile, '--endpoint', service.apiUrl]);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
    expect(verified.stdout).toContain('What the caller changed on the page');
    for (const option of ['scripts', 'styles', 'hideSelectors', 'click', 'cookies', 'headers', 'authentication', 'deterministic', 'now']) {
      expect(verified.stdout).toMatch(new RegExp(`\\n {2}- ${option}: `));
    }
  }, 120_000);

  it("an html job's receipt binds the document by its SHA-256, and verify says the caller supplied it", async () => {
    const doc = '<h1 style="background:#0a0;color:#fff">caller document</h1>';
    const { res, json } = await postScreenshot(service.apiUrl, { html: doc });
    expect(res.status, JSON.stringify(json)).toBe(202);
    const done = await waitForSettled(String(json.statusUrl), 90_000);
    expect(done.status).toBe('done');
    const text = await (await fetch(`${service.apiUrl}/screenshots/${json.id}/receipt`)).text();
    const sha256 = createHash('sha256').update(doc).digest('hex');
    expect(JSON.parse(text).request.html).toEqual({ sha256 });
    const receiptFile = join(scratchDir('url2png-receipt-'), 'receipt.json');
    writeFileSync(receiptFile, text);
    writeFileSync(`${receiptFile}.png`, new Uint8Array(await (await fetch(done.imageUrl!)).arrayBuffer()));
    const verified = await runCli(['verify', receiptFile, `${receiptFile}.png`, '--endpoint', service.apiUrl]);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
    expect(verified.stdout).toContain(`html: the caller supplied the document (SHA-256 ${sha256})`);
  }, 120_000);

  it('the data directory is 0700 and every file in it 0600, images and queue included', () => {
    const entries = modes(dataDir);
    expect(entries.some((e) => e.path.includes(`${join('s3', 'buckets')}`) && !e.dir)).toBe(true); // an image was written
    expect(entries.some((e) => e.path.includes('sqs') && !e.dir)).toBe(true);
    for (const e of entries) expect({ path: e.path, mode: e.mode.toString(8) }).toEqual({ path: e.path, mode: e.dir ? '700' : '600' });
  });
});

describe('npm start and a data directory that is not its own', () => {
  it('--fresh on a directory with foreign files refuses and deletes nothing; on its own directory it empties it', async () => {
    const foreign = scratchDir('url2png-foreign-');
    writeFileSync(join(foreign, 'thesis.tex'), 'years of work');
    mkdirSync(join(foreign, 'sqs'));
    for (const args of [['--fresh'], []]) {
      const refused = await npmStart(foreign, args);
      expect(refused.service, refused.output).toBeUndefined();
      expect(refused.code).not.toBe(0);
      expect(refused.output).toContain(`${foreign} holds files that are not url2png's (no ${DATA_DIR_MARKER} marker)`);
      expect(readFileSync(join(foreign, 'thesis.tex'), 'utf8')).toBe('years of work');
      expect(existsSync(join(foreign, DATA_DIR_MARKER))).toBe(false);
    }

    const own = join(scratchDir('url2png-own-'), 'data');
    const first = await npmStart(own);
    expect(first.service, first.output).toBeDefined();
    await first.service!.stop();
    expect(existsSync(join(own, DATA_DIR_MARKER))).toBe(true);
    writeFileSync(join(own, 'left-over'), 'x');
    const fresh = await npmStart(own, ['--fresh']);
    expect(fresh.service, fresh.output).toBeDefined();
    try {
      expect(fresh.output).toContain('(emptied: --fresh)');
      expect(existsSync(join(own, 'left-over'))).toBe(false);
      // A second service on the same directory is refused while the first holds the lock.
      const second = await npmStart(own);
      expect(second.service, second.output).toBeUndefined();
      expect(second.output).toContain('is in use by another url2png service');
    } finally {
      await fresh.service!.stop();
    }
  }, 180_000);
});
