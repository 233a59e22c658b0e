// API Lambda: POST /screenshots, GET /screenshots/{id}. Adapts API Gateway events to lib/.
import { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpRouterHandler, { type Route } from '@middy/http-router';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { config } from '../lib/contract/config.js';
import { deviceList } from '../lib/contract/devices.js';
import { isJobId } from '../lib/contract/job.js';
import { BatchPartlyQueued, parseBatchRequest, readBatch, submitBatch } from '../lib/api/batches.js';
import { parseScreenshotRequest } from '../lib/contract/request.js';
import { openApiDocument } from '../lib/contract/openapi.js';
import type { ScreenshotStatus } from '../lib/contract/status.js';
import { waitForSettled } from '../lib/api/sync-wait.js';
import { MAX_WAIT_SECONDS, preferredWait, waitSchema } from '../lib/contract/wait.js';
import { redirectMaxAge, renderForLink } from '../lib/api/link-renders.js';
import { type LinkSecrets, linkRequestFields, linkSecretsLoader, verifyRenderLink } from '../lib/api/render-links.js';
import { publicPart } from '../lib/receipts/receipt-key.js';
import {
  createApiDeps,
  findCachedScreenshot,
  readReceipt,
  refuseCompareTo,
  readScreenshot,
  submitScreenshot,
  JobTooLarge,
} from '../lib/api/screenshots.js';
import { EgressAllowList } from '../lib/egress/url-policy.js';
import { bodyLimit } from './http/body-limit.js';
import { ApiError, jsonErrors, jsonResponse } from './http/json.js';
import { webPageResponse } from './http/page.js';

const logger = new Logger({ serviceName: 'url2png-api' });
// An html document may be 1 MB; as a JSON string (escaped quotes and line breaks) somewhat more.
const MAX_BODY_BYTES = 2 * 1024 * 1024;
// The web page's files ship with this function (serverless.yml). Resolved from this file, the path
// holds both in the source tree and in the bundle, which esbuild writes to handlers/api.js.
const WEB_PAGE_DIR = new URL('./http/page/', import.meta.url);
/** A batch carries up to 50 requests. */
const MAX_BATCH_BODY_BYTES = 1024 * 1024;

let deps: { api: ReturnType<typeof createApiDeps>; allow: EgressAllowList } | undefined;
const getDeps = () => {
  deps ??= { api: createApiDeps(config()), allow: new EgressAllowList(config().egressAllow) };
  return deps;
};

type Event = APIGatewayProxyEvent;

/** The absolute URL of this API, stage prefix included (API Gateway's path carries it). */
function baseUrl(event: Event): string {
  const host = event.headers?.host ?? event.requestContext?.domainName ?? 'localhost';
  const proto = event.headers?.['x-forwarded-proto'] ?? 'https';
  const fullPath = event.requestContext?.path ?? event.path;
  const prefix = fullPath.endsWith(event.path) ? fullPath.slice(0, fullPath.length - event.path.length) : '';
  return `${proto}://${host}${prefix}`;
}

/** Webhooks are signed with the deployment's secret: without one, a callbackUrl cannot be honoured. */
function refuseCallbackWithoutSecret(callbackUrl: string | undefined): void {
  if (!callbackUrl || config().webhookSecret) return;
  throw new ApiError(
    400,
    'callbacks_disabled',
    'this deployment has no webhook secret (URL2PNG_WEBHOOK_SECRET), so callbackUrl is not available; poll statusUrl instead',
  );
}

/** A client that asked for JSON (the CLI, the web page) gets the done status as 200 instead of a 303 to the image. */
const wantsJson = (event: Event) => /application\/(?:[\w.+-]*\+)?json/i.test(event.headers?.accept ?? '');

/**
 * The answer to a synchronous request whose job settled: 303 See Other to the image (200 with the
 * status when the client asked for JSON), or 422 with the failed job's status and its error.
 */
function settledResponse(event: Event, status: ScreenshotStatus, headers: Record<string, string>): APIGatewayProxyResult | undefined {
  if (status.status === 'done' && status.imageUrl) {
    if (wantsJson(event)) return jsonResponse(200, status, headers);
    return jsonResponse(303, status, { ...headers, location: status.imageUrl });
  }
  if (status.status === 'failed') return jsonResponse(422, status, headers);
  return undefined;
}

/** "wait" in the body, else `Prefer: wait=N`; the body's field is taken out before the request is validated. */
function syncWait(event: Event): { seconds?: number; preferred: boolean } {
  const body = event.body as unknown;
  if (body && typeof body === 'object' && !Array.isArray(body) && 'wait' in body) {
    const { wait, ...rest } = body as Record<string, unknown>;
    const parsed = waitSchema.safeParse(wait);
    if (!parsed.success) throw new ApiError(400, 'invalid_request', parsed.error.issues.map((i) => i.message).join('; '));
    (event as { body: unknown }).body = rest;
    return { seconds: parsed.data, preferred: false };
  }
  const preferred = preferredWait(event.headers?.prefer);
  return { seconds: preferred, preferred: preferred !== undefined };
}

const postScreenshot = middy<Event, APIGatewayProxyResult>()
  .use(bodyLimit(MAX_BODY_BYTES))
  .use(httpJsonBodyParser())
  .handler(async (event, context) => {
    const { api, allow } = getDeps();
    const wait = syncWait(event);
    const parsed = parseScreenshotRequest(event.body as unknown, allow);
    if (!parsed.ok) throw new ApiError(400, parsed.problem.code, parsed.problem.message);
    refuseCallbackWithoutSecret(parsed.request.callbackUrl);
    const compareProblem = await refuseCompareTo(parsed.request, api);
    if (compareProblem) throw new ApiError(400, 'compare_unavailable', compareProblem);
    // RFC 7240: say that the preference was honoured.
    const applied: Record<string, string> = wait.preferred ? { 'preference-applied': `wait=${wait.seconds}` } : {};
    const cached = await findCachedScreenshot(parsed.request, api);
    if (cached) {
      const cachedStatusUrl = `${baseUrl(event)}/screenshots/${cached.id}`;
      const body = { ...cached, statusUrl: cachedStatusUrl };
      if (wait.seconds !== undefined) return settledResponse(event, body, { ...applied, 'cache-control': 'no-store' })!;
      return jsonResponse(200, body, { location: cachedStatusUrl, 'cache-control': 'no-store' });
    }
    const job = await submitScreenshot(parsed.request, api).catch(tooLargeFor413);
    const statusUrl = `${baseUrl(event)}/screenshots/${job.id}`;
    logger.info('job queued', { jobId: job.id, url: job.url, waitSeconds: wait.seconds });
    if (wait.seconds !== undefined && wait.seconds > 0) {
      const status = await waitForSettled(job.id, api, wait.seconds * 1000, () => context.getRemainingTimeInMillis());
      // receiptSalt: only to the caller, as in the 202 answer.
      const answer =
        status &&
        settledResponse(event, { ...status, statusUrl, receiptSalt: job.receiptSalt }, { ...applied, 'cache-control': 'no-store' });
      if (answer) return answer;
    }
    return jsonResponse(
      202,
      // receiptSalt: only here, only to the caller (the receipt's commitments to its credentials).
      { id: job.id, status: 'queued', statusUrl, url: job.url, requestedAt: job.requestedAt, receiptSalt: job.receiptSalt },
      { ...applied, location: statusUrl },
    );
  });

/** A job SQS could not hold is the caller's to shrink: 413, before anything was written. */
function tooLargeFor413(error: unknown): never {
  if (error instanceof JobTooLarge) throw new ApiError(413, 'request_too_large', error.message);
  throw error;
}

function jobIdParameter(event: Event): string {
  const id = (event.pathParameters?.id ?? '').toLowerCase(); // the chapter's clients may send upper-case UUIDs
  if (!isJobId(id)) {
    throw new ApiError(400, 'invalid_id', `"${id.slice(0, 64)}" is not a screenshot id; use the id that POST /screenshots returned`);
  }
  return id;
}

const getScreenshot = async (event: Event): Promise<APIGatewayProxyResult> => {
  const id = jobIdParameter(event);
  const body = await readScreenshot(id, getDeps().api);
  if (!body) throw new ApiError(404, 'not_found', `no screenshot with id ${id}; it may have expired`);
  return jsonResponse(200, body, { 'cache-control': 'no-store' });
};

const getReceipt = async (event: Event): Promise<APIGatewayProxyResult> => {
  const id = jobIdParameter(event);
  const found = await readReceipt(id, getDeps().api);
  if ('receipt' in found) return jsonResponse(200, found.receipt, { 'cache-control': 'private, max-age=3600' });
  if (found.problem === 'not_done') {
    throw new ApiError(
      409,
      'not_done',
      `the screenshot ${id} is ${found.status}; only a done screenshot has a receipt${found.status === 'queued' ? ', poll its status until it is done' : ''}`,
    );
  }
  throw new ApiError(
    404,
    'not_found',
    found.problem === 'unknown'
      ? `no screenshot with id ${id}; it may have expired`
      : `the screenshot ${id} has no receipt (it was made before receipts existed, or the receipt expired)`,
  );
};

const getReceiptKey = async (): Promise<APIGatewayProxyResult> => {
  const key = await getDeps()
    .api.receiptKey()
    .catch((error: Error) => {
      logger.error('receipt key unavailable', error);
      throw new ApiError(503, 'receipt_key_unavailable', 'the receipt signing key is not available right now; try again later');
    });
  return jsonResponse(200, publicPart(key), { 'cache-control': 'public, max-age=300' });
};

const postBatch = middy<Event, APIGatewayProxyResult>()
  .use(bodyLimit(MAX_BATCH_BODY_BYTES))
  .use(httpJsonBodyParser())
  .handler(async (event) => {
    const { api, allow } = getDeps();
    const parsed = parseBatchRequest(event.body as unknown, allow);
    if (!parsed.ok) throw new ApiError(400, parsed.problem.code, parsed.problem.message);
    refuseCallbackWithoutSecret(parsed.batch.callbackUrl ?? parsed.batch.requests.find((r) => r.callbackUrl)?.callbackUrl);
    const batch = await submitBatch(parsed.batch, api)
      .catch(tooLargeFor413)
      .catch((error: unknown) => {
        if (!(error instanceof BatchPartlyQueued)) throw error;
        logger.error('batch partly queued', error);
        // Its unqueued jobs are `failed`, so the batch settles; the caller learns which ones to send again.
        throw new ApiError(
          503,
          'queue_unavailable',
          `${error.message}; those are failed (aws_unavailable) in GET ${baseUrl(event)}/batches/${error.batchId}, the others run: submit the failed ones again`,
        );
      });
    const base = baseUrl(event);
    const statusUrl = `${base}/batches/${batch.id}`;
    logger.info('batch queued', { batchId: batch.id, jobs: batch.jobs.length });
    return jsonResponse(
      202,
      {
        id: batch.id,
        status: 'queued',
        statusUrl,
        jobs: batch.jobs.map((j) => ({ id: j.id, url: j.url, statusUrl: `${base}/screenshots/${j.id}`, receiptSalt: j.receiptSalt })),
      },
      { location: statusUrl },
    );
  });

const getBatch = async (event: Event): Promise<APIGatewayProxyResult> => {
  const id = event.pathParameters?.id ?? '';
  if (!isJobId(id)) throw new ApiError(400, 'invalid_id', `"${id.slice(0, 64)}" is not a batch id; use the id that POST /batches returned`);
  const body = await readBatch(id, getDeps().api);
  if (!body) throw new ApiError(404, 'not_found', `no batch with id ${id}; it may have expired`);
  return jsonResponse(200, body, { 'cache-control': 'no-store' });
};

let linkSecrets: (() => Promise<LinkSecrets>) | undefined;

/** The query as API Gateway passes it, every name with all its values (a repeated name is refused). */
const queryOf = (event: Event): Record<string, string[]> =>
  event.multiValueQueryStringParameters
    ? Object.fromEntries(Object.entries(event.multiValueQueryStringParameters).map(([k, v]) => [k, v ?? []]))
    : Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).map(([k, v]) => [k, v === undefined ? [] : [v]]));

/**
 * GET /render: a signed link that is the image. 302 to it (cached, or rendered within the wait),
 * 503 + Retry-After while it renders, 403 for a link that is not valid (lib/api/render-links.ts).
 */
const getRender = async (event: Event, context: Context): Promise<APIGatewayProxyResult> => {
  const { api, allow } = getDeps();
  linkSecrets ??= linkSecretsLoader(config());
  const secrets = await linkSecrets().catch((error: Error) => {
    logger.error('render link secrets unavailable', error);
    throw new ApiError(503, 'render_links_unavailable', 'the render link keys are not available right now; try again later');
  });
  const verdict = verifyRenderLink(queryOf(event), secrets);
  if (!verdict.ok) throw new ApiError(403, verdict.refusal.code, verdict.refusal.message);
  const link = linkRequestFields(verdict.fields);
  if (!link.ok) throw new ApiError(400, 'invalid_request', link.message);
  const parsed = parseScreenshotRequest(link.fields, allow);
  if (!parsed.ok) throw new ApiError(400, parsed.problem.code, parsed.problem.message);
  const compareProblem = await refuseCompareTo(parsed.request, api);
  if (compareProblem) throw new ApiError(400, 'compare_unavailable', compareProblem);
  // An <img> sends no Prefer: it gets the longest wait. A script may ask for less.
  const waitSeconds = preferredWait(event.headers?.prefer) ?? MAX_WAIT_SECONDS;
  const result = await renderForLink(parsed.request, api, waitSeconds * 1000, () => context.getRemainingTimeInMillis());
  const base = baseUrl(event);
  if (result.kind === 'image') {
    const maxAge = redirectMaxAge(result.freshForSeconds, verdict.expires);
    return {
      statusCode: 302,
      headers: {
        location: result.imageUrl,
        'cache-control': `public, max-age=${maxAge}`,
        'x-url2png-cache': result.cached ? 'hit' : 'miss',
      },
      body: '',
    };
  }
  if (result.kind === 'failed') {
    const { error, id } = result.status;
    return jsonResponse(
      422,
      { error: error ?? { code: 'failed', message: 'the screenshot failed' }, id, statusUrl: `${base}/screenshots/${id}` },
      { 'cache-control': 'no-store' },
    );
  }
  return jsonResponse(
    503,
    {
      error: { code: 'not_ready', message: `the image is still being rendered; fetch the link again in ${RENDER_RETRY_AFTER_S} s` },
      id: result.id,
      statusUrl: `${base}/screenshots/${result.id}`,
    },
    { 'retry-after': String(RENDER_RETRY_AFTER_S), 'cache-control': 'no-store' },
  );
};
/** Seconds a client should wait before fetching a link that is not ready yet. */
const RENDER_RETRY_AFTER_S = 5;

const routes: Route<Event, APIGatewayProxyResult>[] = [
  { method: 'GET', path: '/render', handler: getRender },
  { method: 'POST', path: '/batches', handler: postBatch },
  { method: 'GET', path: '/batches/{id}', handler: getBatch },
  { method: 'POST', path: '/screenshots', handler: postScreenshot },
  { method: 'GET', path: '/screenshots/{id}', handler: getScreenshot },
  { method: 'GET', path: '/screenshots/{id}/receipt', handler: getReceipt },
  { method: 'GET', path: '/receipt-key', handler: getReceiptKey },
  // The names the `device` field takes, with what each sets.
  {
    method: 'GET',
    path: '/devices',
    handler: async () => jsonResponse(200, { devices: deviceList() }, { 'cache-control': 'public, max-age=3600' }),
  },
  // Generated from lib/contract/request.ts, the schema that validates POST /screenshots.
  {
    method: 'GET',
    path: '/openapi.json',
    handler: async (event: Event) => jsonResponse(200, openApiDocument(baseUrl(event)), { 'cache-control': 'public, max-age=300' }),
  },
  // The web page: same origin as the API; its script calls the routes above under the stage's path prefix.
  { method: 'GET', path: '/', handler: async (event: Event) => webPageResponse(WEB_PAGE_DIR, new URL(baseUrl(event)).pathname) },
];

/** The paths that have a route, as patterns: any other method on one of them is a 405. */
const KNOWN_PATHS = routes.map((r) => new RegExp(`^${r.path.replace(/\./g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}/?$`));

/** Every METHOD /path the API serves; serverless.yml and OpenAPI must list the same (tests/security/template.test.ts). */
export const ROUTES: readonly string[] = routes.map((r) => `${r.method} ${r.path}`);

function notFoundResponse({ method, path }: { method: string; path: string }): never {
  if (KNOWN_PATHS.some((p) => p.test(path))) {
    throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}; see GET /openapi.json`);
  }
  throw new ApiError(404, 'not_found', `no route ${method} ${path}; the API has ${ROUTES.join(', ')}`);
}

export const handler = middy<Event, APIGatewayProxyResult>()
  .use(httpHeaderNormalizer())
  // API Gateway answers the preflight; the actual responses must carry the CORS headers too.
  .use(httpCors({ origin: config().corsOrigin, exposeHeaders: 'Location, Preference-Applied', credentials: false }))
  .use(jsonErrors((message, error) => logger.error(message, error as Error)))
  .handler(httpRouterHandler({ routes, notFoundResponse }));
