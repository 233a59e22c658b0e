// url2png <url> [-o file] [options]: submit a screenshot, follow it, save the image.
// Progress goes to stderr (a spinner on a TTY, plain lines otherwise); stdout carries only the
// result (the file path, the status URL with --no-wait, or one JSON object with --json).
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import ora, { type Ora } from 'ora';
import { EXTRACT_KINDS, QUALITY_FLAGS } from '../lib/contract/findings.js';
import type { Problem } from '../lib/contract/problem.js';
import type { DiffSummary, ScreenshotStatus } from '../lib/contract/status.js';
import type { LocalStack } from '../local/stack.js';
import {
  CliError,
  defaultFileName,
  describeDiff,
  download,
  EXIT,
  extensionFor,
  isLoopbackEndpoint,
  withDefaultScheme,
  submit,
  Unreachable,
  waitForJob,
  type Submitted,
} from './client.js';
import { readUrlList, runBatch } from './batch.js';
import { startPipelineHere } from './in-process.js';
import { parseLinkSecrets, signRenderLink } from '../lib/api/render-links.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface Options {
  output?: string;
  endpoint?: string;
  width?: number;
  height?: number;
  fullPage?: boolean;
  blockAds?: boolean;
  blockTrackers?: boolean;
  blockCookieBanners?: boolean;
  format?: 'png' | 'jpeg' | 'webp' | 'pdf';
  paper?: string;
  landscape?: boolean;
  quality?: number;
  compareTo?: string;
  extract?: string[];
  qualityFail?: string[];
  /** false with --no-quality-checks. */
  qualityChecks?: boolean;
  header?: Record<string, string>;
  cookie?: Array<{ name: string; value: string }>;
  device?: string;
  userAgent?: string;
  htmlFile?: string;
  clip?: { x: number; y: number; width: number; height: number };
  option?: Record<string, unknown>;
  wait: boolean;
  json?: boolean;
  apiKey?: string;
  timeout: number;
  fallback: boolean;
  quiet?: boolean;
  batch?: string;
  outDir: string;
}

const wholeNumber = (value: string) => {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number.');
  return Number(value);
};
const seconds = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds greater than 0.');
  return n;
};
/** -O name=value, repeatable; the value is JSON when it parses as JSON (numbers, true/false), else a string. */
const field = (pair: string, previous: Record<string, unknown> | undefined) => {
  const match = /^([A-Za-z][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
  if (!match) throw new InvalidArgumentError('expected name=value, e.g. -O waitUntil=networkidle or -O darkMode=true.');
  const [, name, raw] = match as unknown as [string, string, string];
  if (name === 'url') throw new InvalidArgumentError('the URL is the first argument, not an option.');
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* a plain string */
  }
  return { ...previous, [name]: value };
};

/** --header name:value, repeatable. */
const header = (pair: string, previous: Record<string, string> | undefined) => {
  const at = pair.indexOf(':');
  if (at < 1) throw new InvalidArgumentError('expected name:value, e.g. --header "X-Team: docs".');
  return { ...previous, [pair.slice(0, at).trim()]: pair.slice(at + 1).trim() };
};
/** --cookie name=value, repeatable (for domain, path and the rest: -O cookies='[...]'). */
const cookie = (pair: string, previous: Array<{ name: string; value: string }> | undefined) => {
  const at = pair.indexOf('=');
  if (at < 1) throw new InvalidArgumentError('expected name=value, e.g. --cookie session=abc123.');
  return [...(previous ?? []), { name: pair.slice(0, at).trim(), value: pair.slice(at + 1) }];
};
/** --extract metadata,markdown and --quality-fail blank,challenge: a comma-separated list of known names. */
const names = (allowed: readonly string[]) => (value: string) => {
  const list = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const unknown = list.filter((v) => !allowed.includes(v));
  if (!list.length || unknown.length) throw new InvalidArgumentError(`expected a comma-separated list of ${allowed.join(', ')}.`);
  return [...new Set(list)];
};
/** --clip x,y,width,height in CSS pixels. */
const clip = (value: string) => {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length !== 4 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p)))
    throw new InvalidArgumentError('expected x,y,width,height in CSS pixels, e.g. 0,0,400,300.');
  const [x, y, width, height] = parts.map(Number) as [number, number, number, number];
  return { x, y, width, height };
};

function program(): Command {
  return new Command('url2png')
    .version(VERSION, '-V, --version')
    .description('Take a screenshot of a web page with the url2png service and save the image.')
    .argument('[url]', 'the page to capture (http or https; without a scheme, https:// is assumed); or --html-file, or --batch')
    .option(
      '--batch <file>',
      'capture every URL in this file (one per line; blank lines and # comments skipped), the options applying to all',
    )
    .option('--out-dir <dir>', 'with --batch: where the images go (named <host>-<id>.<ext>)', '.')
    .option('-o, --output <file>', 'where to write the image (default: <host>-<id>.<ext> in the current directory)')
    .option(
      '--endpoint <url>',
      'the url2png API (default: $URL2PNG_ENDPOINT, else http://127.0.0.1:$PORT or :3000; when that is a local address and nothing answers, the command runs the whole pipeline itself)',
    )
    .option('--width <px>', 'viewport width in CSS pixels (service default 1280)', wholeNumber)
    .option('--height <px>', 'viewport height in CSS pixels (service default 800)', wholeNumber)
    .option('--full-page', 'capture the whole scroll height, not just the viewport')
    .option('--block-ads', 'no requests to ad networks, ad slots hidden (service default: off)')
    .option('--block-trackers', 'no requests to analytics and tracking services (service default: off)')
    .option('--block-cookie-banners', 'answer cookie consent banners with "reject" and hide what remains (service default: off)')
    .option(
      '--compare-to <id>',
      'compare with an earlier PNG screenshot: prints the changed pixels and saves the diff image beside the shot (<file>.diff.png)',
    )
    .addOption(
      new Option('--format <format>', 'image format (service default png); pdf prints the page').choices(['png', 'jpeg', 'webp', 'pdf']),
    )
    .option('--paper <size>', 'with --format pdf: paper size, e.g. A4, Letter, Legal (service default A4)')
    .option('--landscape', 'with --format pdf: landscape orientation')
    .option('--quality <n>', 'jpeg/webp quality, 1-100 (service default 80)', wholeNumber)
    .option(
      '--extract <kinds>',
      'also take metadata, text, markdown and/or html from the page (comma-separated); saved beside the image as <name>.extracts.json',
      names(EXTRACT_KINDS),
    )
    .option(
      '--quality-fail <flags>',
      `fail instead of saving when one of these quality checks fires (comma-separated: ${QUALITY_FLAGS.join(', ')})`,
      names(QUALITY_FLAGS),
    )
    .option('--no-quality-checks', 'skip the quality checks (no quality report; about 8 % less CPU per capture)')
    .option('--header <name:value>', "an extra request header for the page's own origin, repeatable", header)
    .option('--cookie <name=value>', "a cookie for the page's host, repeatable", cookie)
    .option('--device <name>', 'emulate a device, e.g. "iPhone 15" or "Pixel 5" (the list: GET /devices)')
    .option('--user-agent <string>', 'the User-Agent the browser sends and the page sees')
    .option('--html-file <file>', 'render this HTML file (up to 1 MB) instead of a URL')
    .option('--clip <x,y,w,h>', 'capture this rectangle of the page, in CSS pixels', clip)
    .option(
      '-O, --option <name=value>',
      'any other request field, repeatable; JSON values parse (e.g. -O darkMode=true -O timezone=Asia/Tokyo -O \'scripts=["document.title=1"]\')',
      field,
    )
    .option('--no-wait', 'print the status URL (or the queued job as JSON) and exit without waiting')
    .option('--json', 'print one JSON object with the result on stdout (also on failure)')
    .option('--api-key <key>', 'API key for a deployed stage, sent as x-api-key (default: $URL2PNG_API_KEY)')
    .option('--timeout <seconds>', 'how long to wait for the job to settle', seconds, 120)
    .option('--no-fallback', 'never run the pipeline in-process; fail when no service answers')
    .option('-q, --quiet', 'no progress output on stderr (errors are still printed)')
    .addHelpText(
      'after',
      `
Exit codes: 0 done, 1 the job failed (or the file could not be written), 2 usage or request refused
by the service, 3 timed out, 4 no service answered / service error.

Verify a capture receipt: npx url2png verify receipt.json image.png (see url2png verify --help).
Print a signed render link (a URL that is the image): npx url2png link <url> [options] (url2png link --help).
Serve the Model Context Protocol over stdio for AI assistants: npx url2png mcp [--endpoint <url>].

Examples:
  npx url2png https://example.com
  npx url2png https://example.com -o shot.webp --format webp --quality 80 --full-page
  npx url2png https://example.com -o page.pdf --format pdf --paper Letter --landscape
  npx url2png https://news.example --block-ads --block-trackers --block-cookie-banners
  npx url2png https://example.com --extract metadata,markdown --quality-fail blank,challenge
  npx url2png https://example.com --device "iPhone 15" --header "X-Team: docs" --cookie session=abc123
  npx url2png --html-file invoice.html -O omitBackground=true -O locale=de-DE
  npx url2png --batch urls.txt --out-dir shots/ --width 1024 --full-page
  URL2PNG_EGRESS_ALLOW=127.0.0.1:8080 npx url2png http://127.0.0.1:8080/ -o local.png`,
    )
    .showHelpAfterError('(run url2png --help for the options)')
    .exitOverride();
}

/** What the user sees while the job runs: a spinner on a TTY, a line per change otherwise. */
class Progress {
  private spinner: Ora | undefined;
  private last = '';
  private timer: NodeJS.Timeout | undefined;
  private phase = '';
  private since = Date.now();

  constructor(private readonly mode: 'tty' | 'lines' | 'quiet') {}

  /** A new phase; on a TTY the elapsed time ticks beside it. */
  step(phase: string, since = this.since): void {
    this.phase = phase;
    this.since = since;
    if (this.mode === 'tty') {
      this.spinner ??= ora({ stream: process.stderr, discardStdin: false }).start();
      this.render();
      this.timer ??= setInterval(() => this.render(), 100);
    } else if (this.mode === 'lines' && phase !== this.last) {
      process.stderr.write(`url2png: ${phase}\n`);
    }
    this.last = phase;
  }

  private render() {
    if (this.spinner) this.spinner.text = `${this.phase} ${elapsed(Date.now() - this.since)}`;
  }

  note(text: string): void {
    if (this.mode === 'quiet') return;
    if (this.spinner?.isSpinning) {
      this.spinner.stopAndPersist({ symbol: 'i', text });
      this.spinner.start();
    } else process.stderr.write(`url2png: ${text}\n`);
  }

  end(ok: boolean, text: string): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.spinner) {
      if (ok) this.spinner.succeed(text);
      else this.spinner.fail(text);
      this.spinner = undefined;
    } else if (this.mode === 'lines' || !ok) {
      process.stderr.write(`url2png: ${text}\n`);
    }
  }
}

const elapsed = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const kilobytes = (n: number) => (n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} kB`);

function buildRequest(rawUrl: string | undefined, o: Options): Record<string, unknown> {
  const request: Record<string, unknown> = { ...o.option };
  if (rawUrl !== undefined) request.url = withDefaultScheme(rawUrl);
  if (o.htmlFile !== undefined) request.html = readHtmlFile(o.htmlFile);
  if (o.header) request.headers = { ...(request.headers as Record<string, string> | undefined), ...o.header };
  if (o.cookie) request.cookies = [...((request.cookies as unknown[] | undefined) ?? []), ...o.cookie];
  if (o.device !== undefined) request.device = o.device;
  if (o.userAgent !== undefined) request.userAgent = o.userAgent;
  if (o.clip !== undefined) request.clip = o.clip;
  if (o.width !== undefined) request.width = o.width;
  if (o.height !== undefined) request.height = o.height;
  if (o.fullPage) request.fullPage = true;
  if (o.blockAds) request.blockAds = true;
  if (o.blockTrackers) request.blockTrackers = true;
  if (o.blockCookieBanners) request.blockCookieBanners = true;
  if (o.format !== undefined) request.format = o.format;
  if (o.quality !== undefined) request.quality = o.quality;
  if (o.compareTo !== undefined) request.compareTo = o.compareTo;
  if (o.extract !== undefined) request.extract = o.extract;
  if (o.qualityFail !== undefined) request.qualityFail = o.qualityFail;
  if (o.qualityChecks === false) request.qualityChecks = false;
  // The service refuses pdf settings without format "pdf" and names the field.
  if (o.paper !== undefined || o.landscape) {
    request.pdf = {
      ...(request.pdf as Record<string, unknown> | undefined),
      ...(o.paper !== undefined ? { paper: o.paper } : {}),
      ...(o.landscape ? { landscape: true } : {}),
    };
  }
  return request;
}

function readHtmlFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(EXIT.usage, `--html-file ${file}: ${(error as Error).message}`, 'usage');
  }
}

function defaultEndpoint(): string {
  return process.env.URL2PNG_ENDPOINT || `http://127.0.0.1:${process.env.PORT || 3000}`;
}

function checkEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(
      EXIT.usage,
      `--endpoint "${raw}" is not a URL; use e.g. http://127.0.0.1:3000 or https://abc123.execute-api.us-east-1.amazonaws.com/prod`,
      'usage',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(EXIT.usage, `--endpoint must be http or https (got ${url.protocol})`, 'usage');
  return url.href.replace(/\/+$/, '');
}

/** The whole service for this one command, on free ports: emulator, API, worker (local/stack.ts), Chromium. */
async function startInProcess(progress: Progress): Promise<LocalStack> {
  progress.step('starting the pipeline here (emulator, API, worker, Chromium)', Date.now());
  return startPipelineHere((line) => progress.note(line));
}

interface CliResult {
  exitCode: number;
  json: Record<string, unknown>;
  stdout?: string;
}

async function run(rawUrl: string | undefined, o: Options, progress: Progress, stacks: { current?: LocalStack }): Promise<CliResult> {
  const request = buildRequest(rawUrl, o);
  const client = { apiKey: o.apiKey || process.env.URL2PNG_API_KEY || undefined };
  let endpoint = checkEndpoint(o.endpoint ?? defaultEndpoint());
  // Elapsed time counts from the submission (after the in-process start-up, when there is one).
  let t0 = Date.now();

  const what = request.url === undefined ? (o.htmlFile ?? 'the html') : String(request.url);
  progress.step(`submitting ${what} to ${endpoint}`, t0);
  // While the command waits anyway, the API may hold the answer until the job settles (no polling).
  const submitOptions = { ...client, waitSeconds: o.wait ? o.timeout : undefined };
  let job: Submitted;
  try {
    job = await submit(endpoint, request, submitOptions);
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    if (!o.fallback || !isLoopbackEndpoint(endpoint)) {
      const hint = isLoopbackEndpoint(endpoint) ? 'start it with npm start, or drop --no-fallback' : 'check --endpoint or URL2PNG_ENDPOINT';
      throw new CliError(EXIT.unavailable, `${error.message}; ${hint}`, 'unreachable');
    }
    progress.note(`${error.message}; running the whole pipeline in-process for this command`);
    if (!o.wait) progress.note('--no-wait ignored: the in-process pipeline lives only as long as this command');
    stacks.current = await startInProcess(progress);
    endpoint = stacks.current.apiUrl;
    t0 = Date.now();
    progress.step(`submitting ${what}`, t0);
    job = await submit(endpoint, request, submitOptions);
  }
  const inProcess = stacks.current !== undefined;
  const base = { id: job.id, url: job.url, statusUrl: job.statusUrl, endpoint, inProcess };

  if (!o.wait && !inProcess) {
    progress.end(true, `queued ${job.id}; follow it at ${job.statusUrl}`);
    return { exitCode: EXIT.ok, json: { ...base, status: job.status }, stdout: job.statusUrl };
  }

  if (job.settled) progress.step(`settled ${job.id.slice(0, 8)} while the service held the request`, t0);
  let status: ScreenshotStatus;
  try {
    status =
      job.settled ??
      (await waitForJob(job.statusUrl, {
        ...client,
        deadline: t0 + o.timeout * 1000,
        onStatus: (s) => {
          const phase =
            s.status === 'queued'
              ? `queued ${s.id.slice(0, 8)}: waiting for a browser`
              : s.status === 'done' || s.status === 'failed'
                ? ''
                : `${s.status} ${s.id.slice(0, 8)}`;
          if (phase) progress.step(phase, t0);
        },
      }));
  } catch (error) {
    if (error instanceof CliError && error.code === 'timeout') {
      return failure(
        EXIT.timeout,
        `timed out after ${o.timeout}s: ${error.message}`,
        { ...base, status: 'timeout', elapsedMs: Date.now() - t0 },
        { code: 'timeout', message: error.message },
      );
    }
    throw error;
  }

  if (status.status === 'failed') {
    const err = status.error ?? { code: 'failed', message: 'the job failed without a reason' };
    return failure(EXIT.failed, `failed: ${err.message} (${err.code})`, { ...base, status: 'failed', elapsedMs: Date.now() - t0 }, err);
  }
  if (!status.imageUrl) throw new CliError(EXIT.unavailable, `the job ${job.id} is done but the service gave no imageUrl`, 'no_image');

  progress.step('downloading the image', t0);
  const image = await download(status.imageUrl);
  const file = resolve(o.output ?? defaultFileName(job.url, job.id, extensionFor(image.contentType ?? status.contentType, o.format)));
  try {
    await writeFile(file, image.bytes);
  } catch (error) {
    throw new CliError(EXIT.failed, `could not write ${file}: ${(error as Error).message}`, 'write_failed');
  }
  const compared = status.diff ? await saveDiff(status.diff, file) : undefined;
  const extracts = status.extractsUrl ? await saveExtracts(status.extractsUrl, file) : undefined;
  const elapsedMs = Date.now() - t0;
  const flags = status.quality?.flags ?? [];
  if (flags.length) progress.note(`quality flags: ${flags.join(', ')} (see docs/quality.md; --quality-fail makes them fail the job)`);
  progress.end(true, `done in ${elapsed(elapsedMs)}: ${file} (${kilobytes(image.bytes.length)}, ${image.contentType})`);
  return {
    exitCode: EXIT.ok,
    json: {
      ...base,
      status: 'done',
      imageUrl: status.imageUrl,
      contentType: image.contentType,
      file,
      bytes: image.bytes.length,
      elapsedMs,
      ...(status.quality ? { quality: status.quality } : {}),
      ...(status.metadata ? { metadata: status.metadata } : {}),
      ...(extracts ? { extractsFile: extracts } : {}),
      ...compared?.json,
    },
    stdout: [file, ...(extracts ? [`extracts: ${extracts}`] : []), ...(compared ? [compared.line] : [])].join('\n'),
  };

  /** --extract: the extracts document goes beside the shot (<name>.extracts.json). */
  async function saveExtracts(url: string, shot: string) {
    progress.step('downloading the extracts', t0);
    const extractsFile = shot.replace(/(\.[^./\\]+)?$/, '.extracts.json');
    const bytes = (await download(url)).bytes;
    try {
      await writeFile(extractsFile, bytes);
    } catch (error) {
      throw new CliError(EXIT.failed, `could not write ${extractsFile}: ${(error as Error).message}`, 'write_failed');
    }
    return extractsFile;
  }

  /** --compare-to: the diff image goes beside the shot (<name>.diff.png), the numbers to stdout. */
  async function saveDiff(diff: DiffSummary, shot: string) {
    progress.step('downloading the diff image', t0);
    const diffFile = shot.replace(/(\.[^./\\]+)?$/, '.diff.png');
    const bytes = (await download(diff.diffImageUrl)).bytes;
    try {
      await writeFile(diffFile, bytes);
    } catch (error) {
      throw new CliError(EXIT.failed, `could not write ${diffFile}: ${(error as Error).message}`, 'write_failed');
    }
    return { json: { diff, diffFile }, line: `diff: ${describeDiff(diff)}; diff image: ${diffFile}` };
  }

  function failure(exitCode: number, text: string, json: Record<string, unknown>, error: Problem): CliResult {
    progress.end(false, text);
    return { exitCode, json: { ...json, error } };
  }
}

/** --batch: every URL of the file, through POST /batches (bin/batch.ts). */
async function batch(file: string, o: Options, progress: Progress, stacks: { current?: LocalStack }): Promise<CliResult> {
  const urls = await readUrlList(file);
  return runBatch(checkEndpoint(o.endpoint ?? defaultEndpoint()), urls, {
    file,
    outDir: o.outDir,
    timeoutS: o.timeout,
    client: { apiKey: o.apiKey || process.env.URL2PNG_API_KEY || undefined },
    request: (url) => buildRequest(url, o),
    progress,
    fallback: async (error) => {
      const endpoint = checkEndpoint(o.endpoint ?? defaultEndpoint());
      if (!o.fallback || !isLoopbackEndpoint(endpoint)) {
        throw new CliError(
          EXIT.unavailable,
          `${error.message}; ${isLoopbackEndpoint(endpoint) ? 'start it with npm start, or drop --no-fallback' : 'check --endpoint or URL2PNG_ENDPOINT'}`,
          'unreachable',
        );
      }
      progress.note(`${error.message}; running the whole pipeline in-process for this command`);
      stacks.current = await startInProcess(progress);
      return stacks.current.apiUrl;
    },
  });
}

/**
 * `url2png link <url> [the request options]`: prints a signed GET /render link for that request,
 * signed with a key of URL2PNG_RENDER_LINK_SECRETS (the first, or --key-id).
 */
function link(argv: string[]): number {
  const cmd = program()
    .name('url2png link')
    .description('Print a signed render link (GET /render) for the page and options: a URL that is the image, for <img src>.')
    .option('--key-id <id>', 'which key of URL2PNG_RENDER_LINK_SECRETS (keyId:secret,...) signs the link (default: the first)')
    .option('--expires-in <seconds>', 'how long the link is valid', seconds, 7 * 24 * 3600)
    .option('--ttl <seconds>', 'how long a rendered image is reused before the link renders again (the request field cache)', wholeNumber);
  try {
    cmd.parse(argv);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  const o = cmd.opts<Options & { keyId?: string; expiresIn: number; ttl?: number }>();
  const fail = (message: string) => {
    process.stderr.write(`url2png link: ${message}\n`);
    return EXIT.usage;
  };
  if (cmd.args[0] === undefined || o.htmlFile !== undefined || o.batch !== undefined)
    return fail('give the page URL (a link carries its request in the query: no --html-file or --batch)');
  let secrets: ReturnType<typeof parseLinkSecrets>;
  try {
    secrets = parseLinkSecrets(process.env.URL2PNG_RENDER_LINK_SECRETS ?? '');
  } catch (error) {
    return fail((error as Error).message);
  }
  const keyId = o.keyId ?? [...secrets.keys()][0];
  const secret = keyId === undefined ? undefined : secrets.get(keyId);
  if (keyId === undefined || secret === undefined)
    return fail(
      keyId === undefined
        ? 'set URL2PNG_RENDER_LINK_SECRETS=keyId:secret (the same as the service has) to sign links'
        : `no key ${keyId} in URL2PNG_RENDER_LINK_SECRETS`,
    );
  const request = buildRequest(cmd.args[0], o);
  if (o.ttl !== undefined) request.cache = o.ttl;
  let endpoint: string;
  try {
    endpoint = checkEndpoint(o.endpoint ?? defaultEndpoint());
  } catch (error) {
    return fail((error as Error).message);
  }
  const expires = Math.floor(Date.now() / 1000) + Math.ceil(o.expiresIn);
  process.stdout.write(`${signRenderLink(endpoint, request, { keyId, secret, expires })}\n`);
  return EXIT.ok;
}

async function main(argv: string[]): Promise<number> {
  // `url2png verify <receipt> <image>`: a command of its own (bin/verify.ts), not a URL to capture.
  if (argv[2] === 'verify') return (await import('./verify.js')).runVerify(argv.slice(3));
  if (argv[2] === 'link') return link([...argv.slice(0, 2), ...argv.slice(3)]);
  // `url2png mcp`: the MCP server over stdio (bin/mcp.ts); returns when the client disconnects.
  if (argv[2] === 'mcp') return (await import('./mcp.js')).runMcp(argv.slice(3), VERSION, defaultEndpoint());
  const cmd = program();
  try {
    cmd.parse(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw error;
  }
  const o = cmd.opts<Options>();
  const rawUrl = cmd.args[0];
  if ([rawUrl !== undefined, o.htmlFile !== undefined, o.batch !== undefined].filter(Boolean).length !== 1) {
    process.stderr.write('url2png: give one of a URL, --html-file <file> or --batch <file> (run url2png --help for the options)\n');
    return EXIT.usage;
  }
  // A terminal that reports no width (some ptys) would make the spinner's redraw misbehave: use lines.
  const mode = o.quiet ? 'quiet' : process.stderr.isTTY && (process.stderr.columns ?? 0) > 0 ? 'tty' : 'lines';
  const progress = new Progress(mode);
  const stacks: { current?: LocalStack } = {};

  // Ctrl-C: stop the in-process pipeline (browser included) before leaving, never leave it orphaned.
  let interrupted = false;
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= (async () => void (await stacks.current?.stop()))());
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress.end(false, `${signal}: stopping`);
    setTimeout(() => process.exit(130), 10_000).unref();
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let result: CliResult;
  try {
    result = o.batch ? await batch(o.batch, o, progress, stacks) : await run(rawUrl, o, progress, stacks);
  } catch (error) {
    if (interrupted) {
      await stop();
      return 130;
    }
    const e = error instanceof CliError ? error : new CliError(EXIT.unavailable, (error as Error).message ?? String(error), 'error');
    progress.end(false, e.message);
    result = {
      exitCode: e.exitCode,
      json: {
        ...(o.batch ? { batch: o.batch } : rawUrl !== undefined ? { url: withDefaultScheme(rawUrl) } : { htmlFile: o.htmlFile }),
        status: 'error',
        error: { code: e.code, message: e.message },
      },
    };
  } finally {
    await stop();
  }
  if (o.json) process.stdout.write(`${JSON.stringify(result.json)}\n`);
  else if (result.stdout) process.stdout.write(`${result.stdout}\n`);
  return result.exitCode;
}

process.exit(await main(process.argv));
