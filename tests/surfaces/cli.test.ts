// The command-line client, run as users run it (a child process of bin/url2png.js), against a
// local stack over HTTP and on its own (no service: the pipeline in-process).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.js';
import { hangingPage, html, servePages, type PageServer } from '../../fixtures/pages.js';
import { imageSize as pngSize } from '../support/images.js';
import { startTestStack, waitForSettled } from '../support/stack.js';
import { decodePng, imageSize, sniffFormat } from '../support/images.js';
import { closedPort, ROOT, runCli } from './support.js';
import type { ErrorBody } from '../../lib/contract/problem.js';

let pages: PageServer;
let stack: LocalStack;
const whoHeaders: IncomingHttpHeaders[] = [];
let dir: string;

beforeAll(async () => {
  pages = await servePages({
    '/hello': html('<h1 style="color:#fff;background:#06c;margin:0;padding:40px">Hello from the CLI test</h1>'),
    '/hang': hangingPage,
    '/empty': html(''),
    '/who': (req, res) => {
      whoHeaders.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/html' }).end(html('<div style="height:100vh;background:#0f0"></div>'));
    },
    // Answers after 1.5 s: long enough that a terminal always shows spinner frames.
    '/slow': (_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(html('<h1>slow</h1>')), 1500);
    },
  });
  // A short render deadline so the hanging page frees its worker soon after the timeout test.
  stack = await startTestStack({ allow: [pages.hostPort], env: { URL2PNG_RENDER_TIMEOUT_MS: '4000' } });
  dir = scratchDir('url2png-cli-');
});

/** Scratch directories of this file, removed when it ends. */
const scratch: string[] = [];
function scratchDir(prefix: string): string {
  const created = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(created);
  return created;
}

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

const parseJson = (stdout: string) => JSON.parse(stdout) as Record<string, unknown> & Partial<ErrorBody>;

describe('url2png against a running local stack', () => {
  it('writes the PNG to -o, prints its path, reports queued and done on stderr, exits 0', async () => {
    const out = join(dir, 'hello.png');
    const run = await runCli([`${pages.origin}/hello`, '-o', out, '--endpoint', stack.apiUrl]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(out);
    expect(pngSize(readFileSync(out))).toEqual({ width: 1280, height: 800 });
    // Not a TTY: one plain line per phase. The service holds the request (Prefer: wait) and usually
    // answers it settled; on a slow machine the job may still be queued when the wait ends.
    expect(run.stderr).toMatch(/url2png: (settled [0-9a-f]{8} while the service held the request|queued [0-9a-f]{8})/);
    expect(run.stderr).toMatch(/url2png: done in \d+\.\ds: .*hello\.png \(.* kB, image\/png\)/);
  });

  it('--format jpeg --quality --width --height --json: a JPEG of that size and one JSON object on stdout', async () => {
    const out = join(dir, 'small.jpg');
    const run = await runCli([
      `${pages.origin}/hello`,
      '-o',
      out,
      '--format',
      'jpeg',
      '--quality',
      '70',
      '--width',
      '640',
      '--height',
      '480',
      '--json',
      '--endpoint',
      stack.apiUrl,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const json = parseJson(run.stdout);
    expect(json).toMatchObject({
      status: 'done',
      contentType: 'image/jpeg',
      file: out,
      url: `${pages.origin}/hello`,
      endpoint: stack.apiUrl,
      inProcess: false,
    });
    expect(json.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(json.statusUrl).toBe(`${stack.apiUrl}/screenshots/${json.id}`);
    const bytes = readFileSync(out);
    expect(json.bytes).toBe(bytes.length);
    expect(sniffFormat(bytes)).toBe('jpeg');
    expect(imageSize(bytes)).toEqual({ width: 640, height: 480 });
  });

  it('without -o names the file from the host and the id; URL2PNG_ENDPOINT picks the service', async () => {
    const cwd = scratchDir('url2png-cwd-');
    const run = await runCli([`${pages.origin}/hello`, '--format', 'webp', '--json'], { cwd, env: { URL2PNG_ENDPOINT: stack.apiUrl } });
    expect(run.code, run.stderr).toBe(0);
    const json = parseJson(run.stdout);
    const expected = `127.0.0.1-${String(json.id).slice(0, 8)}.webp`;
    expect(readdirSync(cwd)).toEqual([expected]);
    expect(json.file).toBe(join(cwd, expected));
    expect(sniffFormat(readFileSync(join(cwd, expected)))).toBe('webp');
  });

  it('passes other request fields through with -O name=value', async () => {
    const out = join(dir, 'retina.png');
    const run = await runCli([
      `${pages.origin}/hello`,
      '-o',
      out,
      '--width',
      '400',
      '--height',
      '300',
      '-O',
      'deviceScaleFactor=2',
      '--endpoint',
      stack.apiUrl,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(pngSize(readFileSync(out))).toEqual({ width: 800, height: 600 });
  });

  it('--device --header --cookie --user-agent --clip: the server got them, the image is the clip at the device scale', async () => {
    const out = join(dir, 'who.png');
    const run = await runCli([
      `${pages.origin}/who`,
      '-o',
      out,
      '--device',
      'iPhone 15',
      '--header',
      'X-Team: docs',
      '--cookie',
      'session=abc=1',
      '--user-agent',
      'cli-test/1',
      '--clip',
      '0,0,100,50',
      '-O',
      'locale=de-DE',
      '--endpoint',
      stack.apiUrl,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(pngSize(readFileSync(out))).toEqual({ width: 300, height: 150 }); // iPhone 15: scale 3
    expect(whoHeaders.at(-1)).toMatchObject({
      'x-team': 'docs',
      cookie: 'session=abc=1',
      'user-agent': 'cli-test/1',
      'accept-language': expect.stringMatching(/^de-DE/),
    });
  });

  it('--html-file renders the file instead of a URL', async () => {
    const file = join(dir, 'page.html');
    writeFileSync(file, html('<div style="height:100vh;background:#00f"></div>'));
    const out = join(dir, 'from-html.png');
    const run = await runCli(['--html-file', file, '-o', out, '--width', '320', '--height', '200', '--endpoint', stack.apiUrl]);
    expect(run.code, run.stderr).toBe(0);
    const png = decodePng(readFileSync(out));
    expect(png.at(160, 100)).toEqual([0, 0, 255]);
  });

  it('a URL the service refuses: exit 2 with its message, and --json says why', async () => {
    const run = await runCli(['ftp://x/file', '--endpoint', stack.apiUrl, '--json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/use http or https/);
    expect(parseJson(run.stdout)).toMatchObject({
      status: 'error',
      error: { code: 'url_refused', message: expect.stringMatching(/use http or https/) },
    });
    const privateAddress = await runCli(['http://10.0.0.1/', '--endpoint', stack.apiUrl]);
    expect(privateAddress.code).toBe(2);
    expect(privateAddress.stderr).toMatch(/private or reserved address/);
    expect(privateAddress.stdout).toBe('');
  });

  it('a job that fails: exit 1 with the job error message, no file', async () => {
    const cwd = scratchDir('url2png-failed-');
    const run = await runCli(['http://no-such-host.invalid/', '--endpoint', stack.apiUrl, '--json'], { cwd });
    expect(run.code).toBe(1);
    const json = parseJson(run.stdout);
    expect(json.status).toBe('failed');
    expect(json.error?.code).toBe('dns_not_found');
    expect(run.stderr).toContain(`failed: ${json.error!.message}`);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('--extract saves <name>.extracts.json beside the image; --quality-fail fails a job whose check fires; --no-quality-checks', async () => {
    const out = join(dir, 'extract.png');
    const run = await runCli([`${pages.origin}/hello`, '-o', out, '--endpoint', stack.apiUrl, '--extract', 'metadata,markdown', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const json = parseJson(run.stdout);
    expect(json.extractsFile).toBe(join(dir, 'extract.extracts.json'));
    const doc = JSON.parse(readFileSync(join(dir, 'extract.extracts.json'), 'utf8'));
    expect(doc.metadata).toMatchObject({ finalUrl: `${pages.origin}/hello`, httpStatus: 200 });
    expect(doc.markdown).toContain('Hello from the CLI test');
    expect(json.metadata).toEqual(doc.metadata);
    expect(json.quality).toMatchObject({ flags: [] });

    const cwd = scratchDir('url2png-quality-');
    const failed = await runCli([`${pages.origin}/empty`, '--endpoint', stack.apiUrl, '--quality-fail', 'blank,challenge', '--json'], {
      cwd,
    });
    expect(failed.code).toBe(1);
    expect(parseJson(failed.stdout).error).toMatchObject({
      code: 'quality_failed',
      message: expect.stringContaining('blank (one colour covers 100%'),
    });
    expect(readdirSync(cwd)).toEqual([]);

    // --no-quality-checks: the same empty page is done, with no quality report to fail on.
    const unchecked = await runCli([
      `${pages.origin}/empty`,
      '-o',
      join(dir, 'unchecked.png'),
      '--endpoint',
      stack.apiUrl,
      '--no-quality-checks',
      '--json',
    ]);
    expect(unchecked.code, unchecked.stderr).toBe(0);
    expect(parseJson(unchecked.stdout).quality).toBeUndefined();

    const usage = await runCli([`${pages.origin}/hello`, '--endpoint', stack.apiUrl, '--extract', 'metadata,pdf']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('expected a comma-separated list of metadata, text, markdown, html');
  });

  it('--no-wait prints the queued job and returns at once; the job still completes', async () => {
    const run = await runCli([`${pages.origin}/hello`, '--no-wait', '--json', '--endpoint', stack.apiUrl]);
    expect(run.code, run.stderr).toBe(0);
    const json = parseJson(run.stdout);
    expect(json).toMatchObject({ status: 'queued', statusUrl: `${stack.apiUrl}/screenshots/${json.id}` });
    expect(json.file).toBeUndefined();
    expect((await waitForSettled(String(json.statusUrl))).status).toBe('done');

    const plain = await runCli([`${pages.origin}/hello`, '--no-wait', '--endpoint', stack.apiUrl]);
    expect(plain.code).toBe(0);
    expect(plain.stdout.trim()).toMatch(new RegExp(`^${stack.apiUrl}/screenshots/[0-9a-f-]{36}$`));
  });

  it('--timeout: a job that does not settle in time exits 3 with a message', async () => {
    const run = await runCli([`${pages.origin}/hang`, '--timeout', '1', '--endpoint', stack.apiUrl, '--json']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/timed out after 1s: the job [0-9a-f-]{36} is still queued/);
    expect(parseJson(run.stdout)).toMatchObject({ status: 'timeout', error: { code: 'timeout' } });
  });

  it('on a terminal: a spinner with the elapsed time, then a check mark', async () => {
    const out = join(dir, 'tty.png');
    // script(1) gives the child a pseudo-terminal; stty gives it a width as a real terminal has.
    const command = `stty cols 120; '${process.execPath}' bin/url2png.js '${pages.origin}/slow' -o '${out}' --endpoint ${stack.apiUrl}`;
    // ora (via is-interactive) never animates when CI is set, as it is in CI runs: a person's
    // terminal has no CI variable.
    const { CI: _ci, ...personEnv } = process.env;
    const { stdout } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
      cwd: ROOT,
      env: { ...personEnv, TERM: 'xterm' },
      timeout: 60_000,
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the terminal's control sequences, which this strips
    const screen = stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(screen).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] (submitting|queued) .* \d+\.\ds/);
    expect(screen).toMatch(/✔ done in \d+\.\ds: /);
    expect(statSync(out).size).toBeGreaterThan(0);
  });

  it('usage mistakes exit 2 and say what to change', async () => {
    const missing = await runCli([]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/give one of a URL, --html-file <file> or --batch <file>/);
    const badClip = await runCli(['https://example.com', '--clip', '0,0,100']);
    expect(badClip.code).toBe(2);
    expect(badClip.stderr).toMatch(/--clip <x,y,w,h>.*expected x,y,width,height/);
    const badHeader = await runCli(['https://example.com', '--header', 'no-colon']);
    expect(badHeader.code).toBe(2);
    expect(badHeader.stderr).toMatch(/expected name:value/);
    const noFile = await runCli(['--html-file', join(dir, 'absent.html'), '--no-fallback']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/--html-file .*absent\.html: ENOENT/);
    const badFormat = await runCli(['https://example.com', '--format', 'gif']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/Allowed choices are png, jpeg, webp/);
    const badWidth = await runCli(['https://example.com', '--width', 'wide']);
    expect(badWidth.code).toBe(2);
    expect(badWidth.stderr).toMatch(/--width <px>.*expected a whole number/);
  });

  it('--api-key goes out as x-api-key; a 403 from the stage says to pass one', async () => {
    // A stand-in for API Gateway with a usage plan: it records the key and refuses the request.
    const seen: Array<string | undefined> = [];
    const gateway = await servePages({
      '/prod/screenshots': (req, res) => {
        seen.push(req.headers['x-api-key'] as string | undefined);
        res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Forbidden' }));
      },
    });
    try {
      const run = await runCli(['https://example.com/', '--endpoint', `${gateway.origin}/prod`, '--api-key', 'k-123']);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/HTTP 403; a deployed stage may need --api-key or URL2PNG_API_KEY/);
      const fromEnv = await runCli(['https://example.com/', '--endpoint', `${gateway.origin}/prod`], { env: { URL2PNG_API_KEY: 'k-env' } });
      expect(fromEnv.code).toBe(2);
      expect(seen).toEqual(['k-123', 'k-env']);
    } finally {
      await gateway.close();
    }
  });

  it('npx url2png runs the package bin', async () => {
    const { stdout } = await promisify(execFile)('npx', ['url2png', '--help'], { cwd: ROOT, timeout: 60_000 });
    expect(stdout).toMatch(/^Usage: url2png \[options\] \[url\]/m);
    expect(stdout).toMatch(/--endpoint <url>/);
  });
});

describe('url2png on its own (no service answering)', () => {
  it('runs the pipeline in-process and still writes the PNG (origin allow-listed)', async () => {
    const out = join(dir, 'in-process.png');
    const port = await closedPort();
    const run = await runCli([`${pages.origin}/hello`, '-o', out, '--endpoint', `http://127.0.0.1:${port}`, '--json'], {
      env: { URL2PNG_EGRESS_ALLOW: pages.hostPort },
      timeoutMs: 90_000,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(
      `no url2png service answered at http://127.0.0.1:${port} (ECONNREFUSED); running the whole pipeline in-process for this command`,
    );
    const json = parseJson(run.stdout); // stdout is only the JSON: the service's logs and metrics stay off it
    expect(json).toMatchObject({ status: 'done', inProcess: true, file: out, contentType: 'image/png' });
    expect(pngSize(readFileSync(out))).toEqual({ width: 1280, height: 800 });
  }, 90_000);

  it('--no-fallback: exit 4 naming the default endpoint built from PORT', async () => {
    const port = await closedPort();
    const run = await runCli([`${pages.origin}/hello`, '--no-fallback'], { env: { PORT: String(port) } });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`no url2png service answered at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(run.stdout).toBe('');
  });
});
