// The OpenAPI 3.1 document, generated from the one request schema (lib/request.ts) so the docs
// cannot drift from what the API validates. OpenAPI 3.1 schemas are JSON Schema 2020-12.
import { z } from 'zod';
import { screenshotRequestSchema } from './request.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from './webhook.js';

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', examples: ['invalid_request'] },
        message: { type: 'string', description: 'What to change' },
      },
    },
  },
} as const;

const statusSchema = {
  type: 'object',
  required: ['id', 'status'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: { type: 'string', enum: ['queued', 'done', 'failed'] },
    statusUrl: { type: 'string', format: 'uri' },
    url: { type: 'string', format: 'uri' },
    requestedAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    imageUrl: { type: 'string', format: 'uri', description: 'When done: a short-lived URL of the image' },
    contentType: { type: 'string', enum: ['image/png', 'image/jpeg', 'image/webp', 'application/pdf'] },
    cached: { type: 'boolean', description: 'true when POST answered from the cache without rendering' },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [String(c), { description: 'Client error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]),
  );

export function openApiDocument(serverUrl?: string) {
  const request = z.toJSONSchema(screenshotRequestSchema, { target: 'draft-2020-12', io: 'input' });
  delete (request as { $schema?: string }).$schema;
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
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/ScreenshotRequest' } } } },
          responses: {
            '202': {
              description: 'Queued; poll statusUrl',
              headers: { Location: { schema: { type: 'string', format: 'uri' }, description: 'The statusUrl' } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/ScreenshotStatus' } } },
            },
            '200': {
              description: 'cache was set and an identical fresh result exists: done at once, nothing rendered',
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
                    { name: SIGNATURE_HEADER, in: 'header', required: true, schema: { type: 'string' }, description: 'v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>' },
                    { name: TIMESTAMP_HEADER, in: 'header', required: true, schema: { type: 'string' }, description: 'Unix seconds when signed' },
                  ],
                  requestBody: {
                    content: {
                      'application/json': {
                        schema: {
                          type: 'object',
                          required: ['id', 'status'],
                          properties: {
                            id: { type: 'string' },
                            status: { type: 'string', enum: ['done', 'failed'] },
                            imageUrl: { type: 'string', format: 'uri' },
                            error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
                          },
                        },
                      },
                    },
                  },
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
            '200': { description: 'The status', content: { 'application/json': { schema: { $ref: '#/components/schemas/ScreenshotStatus' } } } },
            ...errors(400, 404),
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
      schemas: { ScreenshotRequest: request, ScreenshotStatus: statusSchema, Error: errorSchema },
    },
  };
}
