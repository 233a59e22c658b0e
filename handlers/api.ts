// API Lambda: POST /screenshots, GET /screenshots/{id}. Adapts API Gateway events to lib/.
import { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpRouterHandler, { type Route } from '@middy/http-router';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { config } from '../lib/contract/config.js';
import { deviceList } from '../lib/contract/devices.js';
import { isJobId } from '../lib/contract/job.js';
import { BatchPartlyQueued, parseBatchRequest, readBatch, submitBatch } from '../lib/api/batches.js';
import { parseScreenshotRequest } from '../lib/contract/request.js';
import { openApiDocument } from '../lib/contract/openapi.js';
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

const postScreenshot = middy<Event, APIGatewayProxyResult>()
  .use(bodyLimit(MAX_BODY_BYTES))
  .use(httpJsonBodyParser())
  .handler(async (event) => {
    const { api, allow } = getDeps();
    const parsed = parseScreenshotRequest(event.body as unknown, allow);
    if (!parsed.ok) throw new ApiError(400, parsed.problem.code, parsed.problem.message);
    refuseCallbackWithoutSecret(parsed.request.callbackUrl);
    const compareProblem = await refuseCompareTo(parsed.request, api);
    if (compareProblem) throw new ApiError(400, 'compare_unavailable', compareProblem);
    const cached = await findCachedScreenshot(parsed.request, api);
    if (cached) {
      const cachedStatusUrl = `${baseUrl(event)}/screenshots/${cached.id}`;
      return jsonResponse(200, { ...cached, statusUrl: cachedStatusUrl }, { location: cachedStatusUrl, 'cache-control': 'no-store' });
    }
    const job = await submitScreenshot(parsed.request, api).catch(tooLargeFor413);
    const statusUrl = `${baseUrl(event)}/screenshots/${job.id}`;
    logger.info('job queued', { jobId: job.id, url: job.url });
    return jsonResponse(
      202,
      { id: job.id, status: 'queued', statusUrl, url: job.url, requestedAt: job.requestedAt },
      { location: statusUrl },
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
        jobs: batch.jobs.map((j) => ({ id: j.id, url: j.url, statusUrl: `${base}/screenshots/${j.id}` })),
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

const routes: Route<Event, APIGatewayProxyResult>[] = [
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

const KNOWN_PATHS = [
  /^\/screenshots\/?$/,
  /^\/screenshots\/[^/]+\/?$/,
  /^\/screenshots\/[^/]+\/receipt\/?$/,
  /^\/receipt-key\/?$/,
  /^\/batches\/?$/,
  /^\/batches\/[^/]+\/?$/,
];

function notFoundResponse({ method, path }: { method: string; path: string }): never {
  if (KNOWN_PATHS.some((p) => p.test(path))) {
    throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}; see GET /openapi.json`);
  }
  throw new ApiError(
    404,
    'not_found',
    `no route ${method} ${path}; the API has POST /screenshots, GET /screenshots/{id}, GET /screenshots/{id}/receipt, GET /receipt-key, GET /devices, POST /batches and GET /batches/{id}`,
  );
}

export const handler = middy<Event, APIGatewayProxyResult>()
  .use(httpHeaderNormalizer())
  // API Gateway answers the preflight; the actual responses must carry the CORS headers too.
  .use(httpCors({ origin: config().corsOrigin, exposeHeaders: 'Location', credentials: false }))
  .use(jsonErrors((message, error) => logger.error(message, error as Error)))
  .handler(httpRouterHandler({ routes, notFoundResponse }));
