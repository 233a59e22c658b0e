// The OpenAPI 3.1 document, generated from the zod schemas of the request (lib/contract/request.ts), the
// status, the webhook payload and the error body (lib/contract/status.ts), so the docs cannot drift from what
// the API validates and answers. OpenAPI 3.1 schemas are JSON Schema 2020-12.
import { z } from 'zod';
import { MAX_BATCH, screenshotRequestSchema } from './request.js';
import { errorBodySchema } from './problem.js';
import { SIGNATURE_HEADER, screenshotStatusSchema, TIMESTAMP_HEADER, webhookPayloadSchema } from './status.js';
import { MAX_WAIT_SECONDS, waitSchema } from './wait.js';

/** A zod schema as an OpenAPI 3.1 (JSON Schema 2020-12) schema object. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output') {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io });
  delete (out as { $schema?: string }).$schema;
  return out;
}

const receiptSchema = {
  type: 'object',
  description:
    'What the worker observed when it made the image, signed with Ed25519. The signature is over the canonical JSON (RFC 8785: keys sorted, no whitespace) of the receipt without its signature member.',
  required: [
    'type',
    'jobId',
    'request',
    'finalUrl',
    'httpStatus',
    'addresses',
    'connections',
    'image',
    'browser',
    'requestedAt',
    'startedAt',
    'capturedAt',
    'signature',
  ],
  properties: {
    type: { const: 'url2png.capture-receipt/v1' },
    jobId: { type: 'string', format: 'uuid' },
    request: {
      type: 'object',
      properties: {
        url: { type: 'string', format: 'uri' },
        options: { type: 'object', description: 'The request options with defaults applied, minus the withheld ones' },
        withheld: {
          type: 'object',
          additionalProperties: { type: 'string' },
          description:
            'Fields that may carry secrets (callbackUrl, authentication, headers, cookies, scripts): "hmac-sha256:<hex of HMAC-SHA256(receiptSalt, their canonical JSON)>", or "omitted" for a job without a receiptSalt',
        },
        html: {
          type: 'object',
          properties: { sha256: { type: 'string' } },
          description: 'An html job: the SHA-256 of the document the caller sent',
        },
      },
    },
    finalUrl: { type: 'string', format: 'uri', description: 'The page the browser ended on, after redirects' },
    httpStatus: { type: ['integer', 'null'], description: "The main document's HTTP status" },
    addresses: {
      type: ['array', 'null'],
      items: { type: 'string' },
      description: 'The IP addresses the egress proxy connected to for this job; null when not attributable (single-process browser)',
    },
    connections: {
      type: ['array', 'null'],
      items: { type: 'object', properties: { host: { type: 'string' }, port: { type: 'integer' }, address: { type: 'string' } } },
    },
    image: { type: 'object', properties: { sha256: { type: 'string' }, bytes: { type: 'integer' }, contentType: { type: 'string' } } },
    browser: { type: 'string', examples: ['HeadlessChrome/143.0.7499.169'] },
    requestedAt: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time' },
    capturedAt: { type: 'string', format: 'date-time' },
    signature: {
      type: 'object',
      properties: { algorithm: { const: 'Ed25519' }, keyId: { type: 'string' }, value: { type: 'string', description: 'base64' } },
    },
  },
} as const;

const batchStatusSchema = {
  type: 'object',
  required: ['id', 'status', 'counts', 'jobs'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: { type: 'string', enum: ['queued', 'done', 'partial'] },
    requestedAt: { type: 'string', format: 'date-time' },
    counts: {
      type: 'object',
      properties: { total: { type: 'integer' }, queued: { type: 'integer' }, done: { type: 'integer' }, failed: { type: 'integer' } },
    },
    jobs: { type: 'array', items: { $ref: '#/components/schemas/ScreenshotStatus' }, description: 'In the order of the requests' },
  },
} as const;

const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      { description: 'Client error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    ]),
  );

export function openApiDocument(serverUrl?: string) {
  // Exactly one of url and html: the schema's refinement, which JSON Schema cannot see by itself.
  const requestSchema = { ...jsonSchema(screenshotRequestSchema, 'input'), oneOf: [{ required: ['url'] }, { required: ['html'] }] } as {
    properties: Record<string, unknown>;
  };
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'url2png',
      version: '1',
      description:
        'Turns a web page into an image. POST a request, poll its statusUrl (or receive the webhook), download imageUrl. ' +
        `Webhooks are signed: ${SIGNATURE_HEADER}: v1=hex(HMAC-SHA256(secret, "<${TIMESTAMP_HEADER}>.<raw body>")).`,
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    paths: {
      '/screenshots': {
        post: {
          operationId: 'createScreenshot',
          summary: 'Queue a screenshot (or answer a cached one at once)',
          parameters: [
            {
              name: 'Prefer',
              in: 'header',
              required: false,
              schema: { type: 'string', examples: ['wait=20'] },
              description: `RFC 7240 wait=N: as the body's wait field (N above ${MAX_WAIT_SECONDS} is cut to ${MAX_WAIT_SECONDS}); the answer then carries Preference-Applied`,
            },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { $ref: '#/components/schemas/CreateScreenshotRequest' },
              },
            },
          },
          responses: {
            '303': {
              description: 'wait was set and the job is done (or cached): Location is the image; the body is the done status',
              headers: { Location: { schema: { type: 'string', format: 'uri' }, description: 'The imageUrl' } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/ScreenshotStatus' } } },
            },
            '422': {
              description: 'wait was set and the job failed: its status, whose error says why',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/ScreenshotStatus' } } },
            },
            '202': {
              description: 'Queued (with wait: not settled within it); poll statusUrl',
              headers: { Location: { schema: { type: 'string', format: 'uri' }, description: 'The statusUrl' } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/ScreenshotStatus' } } },
            },
            '200': {
              description:
                'Done at once: cache was set and an identical fresh result exists (nothing rendered), or wait was set with Accept: application/json and the job is done',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/ScreenshotStatus' } } },
            },
            ...errors(400, 413, 415),
          },
          callbacks: {
            settled: {
              '{$request.body#/callbackUrl}': {
                post: {
                  summary: 'The job settled',
                  parameters: [
                    {
                      name: SIGNATURE_HEADER,
                      in: 'header',
                      required: true,
                      schema: { type: 'string' },
                      description: 'v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>',
                    },
                    {
                      name: TIMESTAMP_HEADER,
                      in: 'header',
                      required: true,
                      schema: { type: 'string' },
                      description: 'Unix seconds when signed',
                    },
                  ],
                  requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/WebhookPayload' } } } },
                  responses: { '2XX': { description: 'Received; anything else is retried with backoff' } },
                },
              },
            },
          },
        },
      },
      '/screenshots/{id}': {
        get: {
          operationId: 'getScreenshot',
          summary: "A screenshot job's status",
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: {
            '200': {
              description: 'The status',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/ScreenshotStatus' } } },
            },
            ...errors(400, 404),
          },
        },
      },
      '/screenshots/{id}/receipt': {
        get: {
          operationId: 'getReceipt',
          summary: "A done screenshot's signed capture receipt (check it with: npx url2png verify receipt.json image)",
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: {
            '200': { description: 'The receipt', content: { 'application/json': { schema: { $ref: '#/components/schemas/Receipt' } } } },
            '409': {
              description: 'The job is not done (queued or failed)',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
            },
            ...errors(400, 404),
          },
        },
      },
      '/receipt-key': {
        get: {
          operationId: 'getReceiptKey',
          summary: 'The public key that verifies receipts',
          responses: {
            '200': {
              description: 'Ed25519 public key (SPKI PEM) and its id, as receipts name it',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['algorithm', 'keyId', 'publicKey'],
                    properties: {
                      algorithm: { const: 'Ed25519' },
                      keyId: { type: 'string', examples: ['ed25519:0123456789abcdef0123456789abcdef'] },
                      publicKey: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
      },
      '/devices': {
        get: {
          operationId: 'listDevices',
          summary: 'The names the device field takes, with the viewport, scale and user agent each sets',
          responses: {
            '200': {
              description: 'Every device',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      devices: {
                        type: 'array',
                        items: {
                          type: 'object',
                          properties: {
                            name: { type: 'string', examples: ['iPhone 15'] },
                            userAgent: { type: 'string' },
                            width: { type: 'integer' },
                            height: { type: 'integer' },
                            deviceScaleFactor: { type: 'number' },
                            isMobile: { type: 'boolean' },
                            hasTouch: { type: 'boolean' },
                            isLandscape: { type: 'boolean' },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
      '/batches': {
        post: {
          operationId: 'createBatch',
          summary: `Queue up to ${MAX_BATCH} screenshots at once, followed as one batch`,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['requests'],
                  additionalProperties: false,
                  properties: {
                    requests: {
                      type: 'array',
                      minItems: 1,
                      maxItems: MAX_BATCH,
                      items: { $ref: '#/components/schemas/ScreenshotRequest' },
                    },
                    callbackUrl: {
                      type: 'string',
                      format: 'uri',
                      description: 'Webhook: POSTed a signed { batchId, status, counts, jobs } once every job has settled',
                    },
                  },
                },
              },
            },
          },
          responses: {
            '202': {
              description: "Queued; poll statusUrl (the batch) or each job's statusUrl",
              headers: { Location: { schema: { type: 'string', format: 'uri' }, description: 'The batch statusUrl' } },
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      id: { type: 'string', format: 'uuid' },
                      status: { type: 'string', enum: ['queued'] },
                      statusUrl: { type: 'string', format: 'uri' },
                      jobs: {
                        type: 'array',
                        items: {
                          type: 'object',
                          properties: {
                            id: { type: 'string', format: 'uuid' },
                            url: { type: 'string' },
                            statusUrl: { type: 'string', format: 'uri' },
                            receiptSalt: { type: 'string', description: "The job's receipt salt (see ScreenshotStatus.receiptSalt)" },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
            ...errors(400, 413, 415),
          },
        },
      },
      '/batches/{id}': {
        get: {
          operationId: 'getBatch',
          summary: 'A batch: queued until every job has settled, then done (all done) or partial',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: {
            '200': { description: 'The batch', content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchStatus' } } } },
            ...errors(400, 404),
          },
        },
      },
      '/': {
        get: {
          operationId: 'getWebPage',
          summary: 'The web page: a form that posts a screenshot request and shows the result',
          responses: { '200': { description: 'The page', content: { 'text/html': {} } } },
        },
      },
      '/render': {
        get: {
          operationId: 'renderLink',
          summary: 'A signed render link: the image itself, for <img src> (no API key; the signature is the credential)',
          description:
            'Every ScreenshotRequest field (but html and callbackUrl) may be a query parameter: strings as they are, other values as JSON (width=1200, fullPage=true). ' +
            'signature = hex HMAC-SHA256 with the secret of keyId over the canonical query: every parameter but signature, sorted by name, name and value encodeURIComponent-encoded, joined as name=value by "&". ' +
            'Links are always cached by the normalised request: cache=<seconds> sets the TTL (default 86400). Make one with: npx url2png link <url> [options].',
          parameters: [
            { name: 'url', in: 'query', required: true, schema: { type: 'string', format: 'uri' } },
            {
              name: 'keyId',
              in: 'query',
              required: true,
              schema: { type: 'string' },
              description: "Which of the operator's secrets signed the link",
            },
            {
              name: 'expires',
              in: 'query',
              required: true,
              schema: { type: 'integer' },
              description: 'Unix seconds after which the link answers 403',
            },
            { name: 'signature', in: 'query', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
            {
              name: 'cache',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1, maximum: 604800 },
              description: 'Seconds one render is reused',
            },
            {
              name: 'Prefer',
              in: 'header',
              required: false,
              schema: { type: 'string', examples: ['wait=5'] },
              description: `wait=N: wait at most N seconds for a render before 503 (default and maximum ${MAX_WAIT_SECONDS})`,
            },
          ],
          responses: {
            '302': {
              description:
                'To the image: cached, or rendered within the wait. The target is served with Cache-Control: public, max-age=31536000, immutable',
              headers: {
                Location: { schema: { type: 'string', format: 'uri' } },
                'X-Url2png-Cache': { schema: { type: 'string', enum: ['hit', 'miss'] } },
              },
            },
            '403': {
              description:
                'invalid_signature (missing, wrong, or a parameter changed, added or repeated), link_expired, unknown_key, render_links_disabled',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
            },
            '422': {
              description: "The page could not be captured: the job's error",
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
            },
            '503': {
              description: 'Still rendering: fetch the link again after Retry-After (the same job is waited for)',
              headers: { 'Retry-After': { schema: { type: 'integer' } } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
            },
            ...errors(400),
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document',
          responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } } },
        },
      },
    },
    components: {
      schemas: {
        ScreenshotRequest: requestSchema,
        // A ScreenshotRequest plus wait, which only POST /screenshots takes (batches and jobs do not carry it).
        CreateScreenshotRequest: { ...requestSchema, properties: { ...requestSchema.properties, wait: jsonSchema(waitSchema.unwrap()) } },
        ScreenshotStatus: jsonSchema(screenshotStatusSchema),
        BatchStatus: batchStatusSchema,
        WebhookPayload: jsonSchema(webhookPayloadSchema),
        Receipt: receiptSchema,
        Error: jsonSchema(errorBodySchema),
      },
    },
  };
}
