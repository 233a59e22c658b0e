// A local stand-in for API Gateway's REST proxy integration: HTTP request -> APIGatewayProxyEvent
// -> the API handler, exactly as Lambda would call it -> HTTP response.
import http from 'node:http';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** API Gateway's own limit on a request payload is 10 MB; past it, it answers 413 itself. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;
const TEXTUAL = /^(application\/(json|.*\+json|x-www-form-urlencoded|javascript|xml)|text\/)/i;

function toProxyEvent(req: http.IncomingMessage, body: Buffer, stage: string): APIGatewayProxyEvent {
  // Concatenated, not resolved against a base: a request target like `//x` is a path, not a host.
  const url = new URL(`http://local${(req.url ?? '/').startsWith('/') ? (req.url ?? '/') : `/${req.url}`}`);
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const value = req.rawHeaders[i + 1]!;
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  headers['X-Forwarded-Proto'] ??= 'http';
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    multiQuery[k] = [...(multiQuery[k] ?? []), v];
  }
  const contentType = req.headers['content-type'] ?? '';
  const textual = body.length === 0 || TEXTUAL.test(contentType);
  const path = safeDecode(url.pathname);
  return {
    resource: path,
    path,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length ? multiQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: body.length === 0 ? null : textual ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !textual,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: req.method ?? 'GET',
      identity: {
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        apiKey: headers['x-api-key'] ?? null,
      } as APIGatewayProxyEvent['requestContext']['identity'],
      path,
      stage,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: path,
      domainName: req.headers.host ?? '127.0.0.1',
    },
  };
}

/** API Gateway passes a path it cannot percent-decode (e.g. `%ff`) through as it came. */
function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export interface LocalApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * API Gateway's API-key check, as serverless.yml configures it: POST (`private: true`) needs a
 * valid `x-api-key`; without a configured key (the local default) nothing is checked.
 */
function apiKeyRefusal(req: http.IncomingMessage, apiKey: string | undefined): APIGatewayProxyResult | undefined {
  if (!apiKey || req.method !== 'POST') return undefined;
  const sent = req.headers['x-api-key'];
  const digest = (v: string) => createHash('sha256').update(v).digest();
  if (typeof sent === 'string' && timingSafeEqual(digest(sent), digest(apiKey))) return undefined;
  const message =
    sent === undefined
      ? 'this API needs an API key: send it in the x-api-key header'
      : 'the x-api-key header does not hold a valid API key';
  return {
    statusCode: 403,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: { code: 'forbidden', message } }),
  };
}

/**
 * DNS rebinding: a page on a name that the attacker makes resolve to 127.0.0.1 reaches this port
 * with its own name in Host. The local API answers only the names of the address it listens on.
 */
function foreignHostRefusal(req: http.IncomingMessage, ownHosts: string[]): APIGatewayProxyResult | undefined {
  const host = req.headers.host;
  if (host !== undefined && ownHosts.includes(host.toLowerCase())) return undefined;
  return {
    statusCode: 421,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      error: {
        code: 'foreign_host',
        message: `this local API answers only requests for Host ${ownHosts.join(' or ')}; open it at http://${ownHosts[0]}/ (got Host ${host ?? '(none)'})`,
      },
    }),
  };
}

export async function serveApi(handler: ApiHandler, options: { port: number; timeoutMs: number; apiKey?: string }): Promise<LocalApi> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= GATEWAY_MAX_BODY) chunks.push(chunk);
    });
    req.on('end', async () => {
      let result: APIGatewayProxyResult;
      const refusal = foreignHostRefusal(req, ownHosts) ?? apiKeyRefusal(req, options.apiKey);
      if (refusal) {
        result = refusal;
      } else if (size > GATEWAY_MAX_BODY) {
        result = {
          statusCode: 413,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ error: { code: 'body_too_large', message: 'the request body exceeds 10 MB' } }),
        };
      } else {
        try {
          result = await handler(toProxyEvent(req, Buffer.concat(chunks), 'local'), lambdaContext('url2png-local-api', options.timeoutMs));
        } catch {
          result = {
            statusCode: 502,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ error: { code: 'internal_error', message: 'the API function failed' } }),
          };
        }
      }
      const headers: Record<string, string | number | boolean | string[]> = { ...(result.headers ?? {}) };
      for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String);
      res.writeHead(result.statusCode, headers as http.OutgoingHttpHeaders);
      res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
    });
  });
  server.keepAliveTimeout = 5000;
  let ownHosts: string[] = [];
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  ownHosts = [`127.0.0.1:${port}`, `localhost:${port}`];
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
