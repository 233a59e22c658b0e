// The only door to the embedded emulator. fauxqs checks no signature, no Host and no Origin, and
// writes an object key straight into a file name; a web page the developer visits could otherwise
// POST a form to it (write files outside the data directory, queue jobs past the API) or read it
// after a DNS rebinding. This front listens on the emulator's address and lets a request through
// to fauxqs (which listens on a Unix socket in a private directory) only when:
// - its Host is exactly the address and port it listens on (DNS rebinding: a rebound name is not it);
// - it carries no Origin header (the stack's clients never send one; a browser sends one on every
//   cross-origin fetch and form POST; an <img> or a navigation to a presigned URL sends none);
// - its body is not a form (multipart/form-data or x-www-form-urlencoded: S3 "POST Object" and the
//   SNS/STS query protocols, none of which the stack uses);
// - it is signed with SigV4, in headers or in a presigned query, with the per-run secret that the
//   local runtime hands its own clients, verified with the SDK's own signer (@smithy/signature-v4);
// - no object key (in the path, x-amz-copy-source or a DeleteObjects body) has a `.` or `..` segment.
// Refusals are AWS-shaped errors (XML for S3, JSON for the SQS JSON protocol) that say what to change.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';

/** fauxqs's own body limit (11 MiB, for S3 multipart parts). */
const MAX_BODY = 11 * 1024 * 1024;
/** AWS refuses a request whose time is more than 15 minutes off (RequestTimeTooSkewed, S3 REST error codes). */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** SigV4 presigned URLs live at most 7 days (AWS "Authenticating Requests: Using Query Parameters"). */
const MAX_PRESIGN_S = 7 * 24 * 3600;

export interface EmulatorCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface EmulatorFront {
  port: number;
  close(): Promise<void>;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The SHA-256 (and HMAC-SHA-256) constructor the signer expects, on node:crypto. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined ? undefined : typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer);
    this.hash = key === undefined ? createHash('sha256') : createHmac('sha256', key as Buffer | string);
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(
      typeof data === 'string'
        ? data
        : Buffer.from(ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data),
    );
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

/** `20261206T192612Z` -> Date, or undefined. */
function amzDate(value: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  return m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : undefined;
}

/** Query parameters as the SDK's HttpRequest holds them: decoded, repeated names as arrays. */
function parseQuery(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    const prev = query[name];
    query[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return query;
}

interface Credential {
  accessKeyId: string;
  region: string;
  service: string;
  day: string;
}

function parseCredential(value: string): Credential {
  const [accessKeyId, day, region, service, terminator] = value.split('/');
  if (!accessKeyId || !day || !region || !service || terminator !== 'aws4_request') {
    throw new Refusal(400, 'AuthorizationHeaderMalformed', 'the credential must be <key id>/<yyyymmdd>/<region>/<service>/aws4_request');
  }
  return { accessKeyId, day, region, service };
}

/**
 * Verifies the request's SigV4 signature by signing the same request again with the secret (same
 * date, scope and signed headers) and comparing. Throws a Refusal saying what is wrong.
 */
async function verifySignature(req: http.IncomingMessage, body: Buffer, credentials: EmulatorCredentials): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  let query: Record<string, string | string[]>;
  try {
    query = parseQuery(q < 0 ? '' : url.slice(q + 1));
  } catch {
    throw new Refusal(400, 'InvalidArgument', 'the query string is not valid percent-encoding');
  }
  const authorization = req.headers.authorization;
  const presigned = typeof query['X-Amz-Signature'] === 'string';
  if (!authorization && !presigned) {
    throw new Refusal(
      403,
      'AccessDenied',
      'this emulator only answers requests signed (SigV4) with the secret of this run: use the credentials the local runtime hands its clients (URL2PNG_EMULATOR_SECRET, or <data dir>/emulator-secret)',
    );
  }
  let credential: Credential;
  let signedHeaders: string[];
  let signature: string;
  let date: Date | undefined;
  let expiresS = 0;
  if (authorization) {
    const m = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(authorization);
    if (!m)
      throw new Refusal(
        400,
        'AuthorizationHeaderMalformed',
        'the Authorization header must be AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...',
      );
    credential = parseCredential(m[1]!);
    signedHeaders = m[2]!.split(';');
    signature = m[3]!;
    date = amzDate(req.headers['x-amz-date'] as string | undefined);
    if (!date) throw new Refusal(403, 'AccessDenied', 'a signed request needs an X-Amz-Date header (yyyymmddThhmmssZ)');
    if (Math.abs(Date.now() - date.getTime()) > MAX_SKEW_MS) {
      throw new Refusal(403, 'RequestTimeTooSkewed', 'the request time differs from the emulator time by more than 15 minutes');
    }
  } else {
    if (query['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256')
      throw new Refusal(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256');
    credential = parseCredential(String(query['X-Amz-Credential'] ?? ''));
    signedHeaders = String(query['X-Amz-SignedHeaders'] ?? '').split(';');
    signature = String(query['X-Amz-Signature']);
    date = amzDate(query['X-Amz-Date'] as string | undefined);
    expiresS = Number(query['X-Amz-Expires']);
    if (!date || !Number.isInteger(expiresS) || expiresS < 1 || expiresS > MAX_PRESIGN_S) {
      throw new Refusal(
        400,
        'AuthorizationQueryParametersError',
        'a presigned URL needs X-Amz-Date and X-Amz-Expires (1 to 604800 seconds)',
      );
    }
    if (Date.now() > date.getTime() + expiresS * 1000) throw new Refusal(403, 'AccessDenied', 'Request has expired: presign the URL again');
  }
  if (credential.accessKeyId !== credentials.accessKeyId) {
    throw new Refusal(403, 'InvalidAccessKeyId', `the access key id must be "${credentials.accessKeyId}"`);
  }
  if (!signedHeaders.includes('host')) throw new Refusal(403, 'AccessDenied', 'the signature must cover the host header');

  // The same request, with exactly the headers the client signed.
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) throw new Refusal(403, 'SignatureDoesNotMatch', `the signed header ${name} is missing`);
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (
    typeof payloadHash === 'string' &&
    /^[0-9a-f]{64}$/.test(payloadHash) &&
    createHash('sha256').update(body).digest('hex') !== payloadHash
  ) {
    throw new Refusal(400, 'XAmzContentSHA256Mismatch', 'the body does not match x-amz-content-sha256');
  }
  const host = String(req.headers.host);
  const request: HttpRequest = {
    method: req.method ?? 'GET',
    protocol: 'http:',
    hostname: host.replace(/:\d+$/, ''),
    port: Number(/:(\d+)$/.exec(host)?.[1]) || undefined,
    path,
    query,
    headers,
    body: body.length ? body : undefined,
  };
  // S3 signs the path as sent; every other service encodes it once more (SignatureV4's uriEscapePath).
  const signer = new SignatureV4({
    credentials,
    region: credential.region,
    service: credential.service,
    sha256: Sha256,
    uriEscapePath: credential.service !== 's3',
  });
  const signable = new Set(signedHeaders);
  let expected: string | undefined;
  if (authorization) {
    // x-amz-date is set again from signingDate; the header must not be given twice.
    delete request.headers['x-amz-date'];
    const signed = await signer.sign(request, { signingDate: date, signableHeaders: signable });
    expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1];
  } else {
    const rest: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(query))
      if (!/^X-Amz-(Algorithm|Credential|Date|Expires|SignedHeaders|Signature)$/.test(k)) rest[k] = v;
    request.query = rest;
    delete request.body;
    // An S3 presigned URL signs UNSIGNED-PAYLOAD (S3 "Authenticating Requests: Using Query Parameters").
    if (credential.service === 's3') request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    const signed = await signer.presign(request, {
      signingDate: date,
      expiresIn: expiresS,
      signableHeaders: signable,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(Object.keys(request.headers)),
    });
    expected = String(signed.query?.['X-Amz-Signature'] ?? '');
  }
  if (!expected || expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    throw new Refusal(
      403,
      'SignatureDoesNotMatch',
      'the request signature does not match: sign with the secret of this run (URL2PNG_EMULATOR_SECRET, or <data dir>/emulator-secret)',
    );
  }
}

const dotSegment = (key: string) => key.split('/').some((s) => s === '.' || s === '..');

/** Object keys may not have `.` or `..` segments: fauxqs turns a key into a file name. */
function refuseDotSegments(req: http.IncomingMessage, body: Buffer): void {
  const url = req.url ?? '/';
  const rawPath = url.split('?')[0]!;
  let path: string;
  let copySource: string;
  try {
    path = decodeURIComponent(rawPath);
    copySource = decodeURIComponent(String(req.headers['x-amz-copy-source'] ?? '').split('?')[0]!);
  } catch {
    throw new Refusal(400, 'InvalidURI', 'the path is not valid percent-encoding');
  }
  const keys = [path, copySource];
  // DeleteObjects names its keys in the XML body.
  if (req.method === 'POST' && /[?&]delete(=|&|$)/.test(url)) {
    for (const m of body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g))
      keys.push(m[1]!.replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>'));
  }
  if (keys.some(dotSegment)) {
    throw new Refusal(400, 'InvalidObjectName', 'object keys and bucket names may not have "." or ".." path segments');
  }
}

function refuseForeign(req: http.IncomingMessage, ownHost: string, extraHosts: string[]): void {
  if (req.headers.host !== ownHost && !extraHosts.includes(String(req.headers.host))) {
    throw new Refusal(400, 'InvalidHost', `this emulator answers only requests for Host ${ownHost} (the address it listens on)`);
  }
  if (req.headers.origin !== undefined) {
    throw new Refusal(
      403,
      'AccessDenied',
      'requests from web pages (with an Origin header) are refused: the emulator serves the local stack only',
    );
  }
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded')) {
    throw new Refusal(
      415,
      'UnsupportedMediaType',
      'form bodies (S3 POST Object, SNS/STS query protocol) are refused: the local stack uses none of them',
    );
  }
}

function answerRefusal(req: http.IncomingMessage, res: http.ServerResponse, refusal: Refusal): void {
  const json = String(req.headers['content-type'] ?? '').includes('x-amz-json');
  const xmlText = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  res.writeHead(refusal.status, { 'content-type': json ? 'application/x-amz-json-1.0' : 'application/xml', connection: 'close' });
  res.end(
    json
      ? JSON.stringify({ __type: refusal.code, message: refusal.message })
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${xmlText(refusal.message)}</Message></Error>`,
  );
}

/**
 * Listens on 127.0.0.1:`port` (0: a free one) and forwards accepted requests to the fauxqs server on
 * the Unix socket `socketPath` (which exists once `listen` has resolved, before any request).
 */
export async function startEmulatorFront(options: {
  port: number;
  socketPath: string;
  credentials: EmulatorCredentials;
  /** Other loopback `host:port`s that forward here (a test's cuttable link). */
  extraHosts?: string[];
}): Promise<EmulatorFront> {
  let ownHost = '';
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      try {
        refuseForeign(req, ownHost, options.extraHosts ?? []);
        if (size > MAX_BODY) throw new Refusal(413, 'EntityTooLarge', 'the body exceeds 11 MiB');
        await verifySignature(req, body, options.credentials);
        refuseDotSegments(req, body);
      } catch (error) {
        if (error instanceof Refusal) return answerRefusal(req, res, error);
        return answerRefusal(req, res, new Refusal(400, 'InvalidRequest', `the request could not be read: ${(error as Error).message}`));
      }
      // The body is whole here: it goes on with its length, not chunked, and without an Expect.
      const { 'transfer-encoding': _chunked, expect: _expect, ...headers } = req.headers;
      const upstream = http.request(
        {
          socketPath: options.socketPath,
          method: req.method,
          path: req.url,
          headers: { ...headers, 'content-length': String(body.length) },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) answerRefusal(req, res, new Refusal(503, 'ServiceUnavailable', 'the emulator is not running'));
        else res.destroy();
      });
      upstream.end(body);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  ownHost = `127.0.0.1:${port}`;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
