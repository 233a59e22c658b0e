// The HTTP side of the command-line client: submit a request, follow its status URL, download the
// image. Plain fetch against the API in docs/api.md (GET /openapi.json); nothing here knows about the terminal.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiffSummary, ScreenshotStatus } from '../lib/contract/status.js';

/** Exit codes of `url2png`, documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  /** The job ended failed (its error message is printed), or the image could not be saved. */
  failed: 1,
  /** A usage mistake, or the service refused the request (a 4xx): change the command. */
  usage: 2,
  /** The job did not settle within --timeout. */
  timeout: 3,
  /** No service answered (and none could be run in-process), or it failed (5xx, not the API). */
  unavailable: 4,
} as const;

export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly code = 'error',
    readonly job?: Partial<ScreenshotStatus>,
  ) {
    super(message);
  }
}

export interface Submitted {
  id: string;
  status: string;
  statusUrl: string;
  url: string;
  /** The job settled while the API held the request (`Prefer: wait=N`): no polling needed. */
  settled?: ScreenshotStatus;
}

/** The longest the API holds a request for a synchronous answer (POST /screenshots, Prefer: wait=N). */
const MAX_SYNC_WAIT_S = 25;

/** One line for people: how much changed, and on what area when the sizes differ. */
export function describeDiff(d: DiffSummary): string {
  const sizes =
    d.newSize.width !== d.previousSize.width || d.newSize.height !== d.previousSize.height
      ? ` (sizes differ: ${d.newSize.width}x${d.newSize.height} now, ${d.previousSize.width}x${d.previousSize.height} before; compared on the common area)`
      : '';
  return `${d.changedPixels} of ${d.width * d.height} pixels changed (${(d.changedRatio * 100).toFixed(4)}%) on ${d.width}x${d.height} since ${d.comparedTo}${sizes}`;
}

export interface ClientOptions {
  apiKey?: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The network-level reason a fetch failed (ECONNREFUSED, ...), or undefined for other errors. */
export function connectionErrorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string; errors?: Array<{ code?: string }> } })?.cause;
  const code = cause?.code ?? cause?.errors?.find((e) => e.code)?.code;
  return code && CONNECTION_CODES.has(code) ? code : undefined;
}

/** fetch says only "fetch failed"; the cause says why. */
const reason = (error: unknown): string => {
  const e = error as Error & { cause?: { message?: string } };
  return e.cause?.message ?? e.message ?? String(error);
};

export class Unreachable extends Error {
  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`no url2png service answered at ${endpoint} (${reason})`);
  }
}

const headers = (options: ClientOptions, extra: Record<string, string> = {}) => ({
  accept: 'application/json',
  ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}),
  ...extra,
});

async function readJson(res: Response, what: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw new CliError(
    EXIT.unavailable,
    `${what} did not answer like the url2png API (HTTP ${res.status}, ${res.headers.get('content-type') ?? 'no content type'}); check --endpoint`,
    'not_url2png',
  );
}

function apiError(res: Response, body: Record<string, unknown>, what: string): CliError {
  const error = body.error as { code?: string; message?: string } | undefined;
  // The contract's { error: { message } }; API Gateway's own refusals (403, 429) say { message }.
  const message = error?.message ?? (typeof body.message === 'string' ? `${what}: ${body.message}` : `${what} answered HTTP ${res.status}`);
  if (res.status === 401 || res.status === 403) {
    return new CliError(
      EXIT.usage,
      `${message} (HTTP ${res.status}; a deployed stage may need --api-key or URL2PNG_API_KEY)`,
      error?.code ?? 'forbidden',
    );
  }
  return new CliError(res.status < 500 ? EXIT.usage : EXIT.unavailable, message, error?.code ?? `http_${res.status}`);
}

/**
 * POST /screenshots. With `waitSeconds` the API may hold the answer until the job settles (sent as
 * `Prefer: wait=N`, which a service without synchronous answers ignores): the settled status then
 * comes back at once (200 done, or 422 failed). Throws Unreachable when nothing answers at the endpoint.
 */
export async function submit(
  endpoint: string,
  request: Record<string, unknown>,
  options: ClientOptions & { waitSeconds?: number },
): Promise<Submitted> {
  const wait = options.waitSeconds ? Math.min(MAX_SYNC_WAIT_S, Math.floor(options.waitSeconds)) : 0;
  const { res, body } = await postJson(endpoint, '/screenshots', request, options, {
    headers: wait > 0 ? { prefer: `wait=${wait}` } : {},
    settledFailure: true,
  });
  if (typeof body.id !== 'string')
    throw new CliError(EXIT.unavailable, `${endpoint} answered ${res.status} without a job id`, 'not_url2png');
  const status = String(body.status ?? 'queued');
  return {
    id: body.id,
    status,
    statusUrl: typeof body.statusUrl === 'string' ? body.statusUrl : `${endpoint}/screenshots/${body.id}`,
    url: typeof body.url === 'string' ? body.url : String(request.url),
    ...(status === 'done' || status === 'failed' ? { settled: body as unknown as ScreenshotStatus } : {}),
  };
}

/** POSTs JSON to the API; a 4xx/5xx becomes a CliError, no answer at all Unreachable. */
export async function postJson(
  endpoint: string,
  path: string,
  request: unknown,
  options: ClientOptions,
  extra: { headers?: Record<string, string>; settledFailure?: boolean } = {},
): Promise<{ res: Response; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(`${endpoint}${path}`, {
      method: 'POST',
      headers: headers(options, { 'content-type': 'application/json', ...extra.headers }),
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const code = connectionErrorCode(error) ?? ((error as Error).name === 'TimeoutError' ? 'timed out' : undefined);
    if (code) throw new Unreachable(endpoint, code);
    throw new CliError(EXIT.unavailable, `could not reach ${endpoint}: ${reason(error)}`, 'unreachable');
  }
  const body = await readJson(res, endpoint);
  // 422 with a failed status: the job ran (synchronously) and failed; the caller reports its error.
  const settledFailure = extra.settledFailure && res.status === 422 && body.status === 'failed';
  if (!res.ok && !settledFailure) throw apiError(res, body, endpoint);
  return { res, body };
}

/** GET the status URL once (a job's or a batch's). */
export async function readStatus<T = ScreenshotStatus>(statusUrl: string, options: ClientOptions): Promise<T> {
  let res: Response;
  try {
    res = await fetch(statusUrl, { headers: headers(options), signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw new CliError(
      EXIT.unavailable,
      `the service stopped answering at ${statusUrl} (${connectionErrorCode(error) ?? reason(error)})`,
      'unreachable',
    );
  }
  const body = await readJson(res, statusUrl);
  if (!res.ok) throw apiError(res, body, statusUrl);
  return body as unknown as T;
}

/**
 * Polls until the job is done or failed, reporting each answer; throws a timeout CliError when it
 * has not settled by `deadline` (epoch ms).
 */
export async function waitForJob(
  statusUrl: string,
  options: ClientOptions & { deadline: number; onStatus?: (status: ScreenshotStatus) => void },
): Promise<ScreenshotStatus> {
  let wait = 150;
  for (;;) {
    const status = await readStatus(statusUrl, options);
    options.onStatus?.(status);
    if (status.status === 'done' || status.status === 'failed') return status;
    const left = options.deadline - Date.now();
    if (left <= 0) {
      throw new CliError(
        EXIT.timeout,
        `the job ${status.id} is still ${status.status}; gave up waiting (--timeout). Its status: ${statusUrl}`,
        'timeout',
        status,
      );
    }
    await sleep(Math.min(wait, left));
    wait = Math.min(Math.round(wait * 1.5), 1000);
  }
}

/** GET the (presigned) image URL. No API key: it goes to the bucket, not the API. */
export async function download(imageUrl: string): Promise<{ bytes: Uint8Array; contentType: string }> {
  let res: Response;
  try {
    res = await fetch(imageUrl, { signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    throw new CliError(
      EXIT.unavailable,
      `could not download the image (${connectionErrorCode(error) ?? reason(error)})`,
      'download_failed',
    );
  }
  if (!res.ok)
    throw new CliError(EXIT.unavailable, `could not download the image: HTTP ${res.status} (the link may have expired)`, 'download_failed');
  return { bytes: new Uint8Array(await res.arrayBuffer()), contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
}

const EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'application/pdf': 'pdf' };

export function extensionFor(contentType: string | undefined, format?: string): string {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type && EXTENSIONS[type]) return EXTENSIONS[type];
  return format === 'jpeg' ? 'jpg' : (format ?? 'png');
}

/** The default output name: `<host>-<first 8 of id>.<ext>`, safe on every file system. */
export function defaultFileName(pageUrl: string, id: string, extension: string): string {
  let host = 'screenshot';
  try {
    host = new URL(pageUrl).hostname.replace(/[^a-z0-9.-]+/gi, '-').replace(/^-+|-+$/g, '') || host;
  } catch {
    /* keep the fallback */
  }
  return `${host}-${id.slice(0, 8)}.${extension}`;
}

/** Adds https:// to a URL typed without a scheme (example.com/x); leaves every other URL alone. */
export function withDefaultScheme(raw: string): string {
  const url = raw.trim();
  return url && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? `https://${url}` : url;
}

export function isLoopbackEndpoint(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}
