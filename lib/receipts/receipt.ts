// Signed capture receipts: what the worker saw when it made an image, signed with Ed25519 so that
// anyone holding the service's public key (GET /receipt-key) can check it later, offline.
//
// Signing: the receipt without its `signature` member is serialised as canonical JSON (RFC 8785,
// JCS: object members sorted by key in UTF-16 code-unit order, no whitespace, numbers and strings
// in their shortest JSON form; the `canonicalize` package implements it), and those UTF-8 bytes are
// signed with Ed25519. A verifier removes `signature`, canonicalises what is left the same way and
// checks the signature over those bytes; field order and whitespace in the file do not matter.
import { createHash, createHmac, sign, verify, type KeyObject } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import type { UpstreamConnection } from '../egress/egress.js';
import type { Job } from '../contract/job.js';
import { screenshotOptionsSchema } from '../contract/request.js';
import type { ReceiptKey } from './receipt-key.js';

const RECEIPT_TYPE = 'url2png.capture-receipt/v1';

/** What the renderer observed about one capture. */
export interface CaptureFacts {
  /** The main frame's URL when the image was taken (after every redirect). */
  finalUrl: string;
  /** The HTTP status of the main document's final response; null when there was none. */
  httpStatus: number | null;
  /** The upstream connections the egress proxy made for this job; null when they cannot be told apart (single-process Chromium). */
  connections: UpstreamConnection[] | null;
  /** The browser's product string, e.g. "HeadlessChrome/143.0.7499.169". */
  browser: string;
  startedAt: string;
  capturedAt: string;
}

/**
 * Request fields that may carry secrets (tokens in a callback URL, credentials, cookies, scripts
 * with tokens in them): a receipt is shared with anyone, so it holds a commitment to each instead
 * of its value: HMAC-SHA256 keyed with the job's secret salt (returned only to the caller, in the
 * answer to its POST) over the canonical JSON of the value. Without the salt nobody can test a
 * guess (an unsalted hash of a weak password is cracked offline); with it the caller can show what
 * it sent. A job without a salt (the book's message shape) has them left out: "omitted".
 */
const WITHHELD_OPTIONS = ['callbackUrl', 'headers', 'cookies', 'authentication', 'scripts'] as const;

/** The commitment to a withheld value: "hmac-sha256:<hex of HMAC-SHA256(salt, canonical JSON)>". */
const commitment = (salt: string, value: unknown): string =>
  `hmac-sha256:${createHmac('sha256', salt).update(canonicalJson(value)).digest('hex')}`;

export interface ReceiptBody {
  type: typeof RECEIPT_TYPE;
  jobId: string;
  request: {
    url: string;
    options: Record<string, unknown>;
    /** Field -> commitment (see `commitment`) or "omitted", for the WITHHELD_OPTIONS present. */
    withheld: Record<string, string>;
    /** An html job: the SHA-256 of the document the caller sent (it rendered at about:blank). */
    html?: { sha256: string };
  };
  finalUrl: string;
  httpStatus: number | null;
  /** The distinct IP addresses connected to, sorted; null when not attributable to the job. */
  addresses: string[] | null;
  connections: UpstreamConnection[] | null;
  image: { sha256: string; bytes: number; contentType: string };
  browser: string;
  requestedAt: string;
  startedAt: string;
  capturedAt: string;
}

export interface Receipt extends ReceiptBody {
  signature: { algorithm: 'Ed25519'; keyId: string; value: string };
}

// The package is CommonJS (module.exports = the function) while its typings declare a default export.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

export const canonicalJson = (value: unknown): string => {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('the value has no JSON form');
  return text;
};

const sha256Hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

export function buildReceipt(
  job: Pick<Job, 'id' | 'url' | 'options' | 'requestedAt' | 'html' | 'receiptSalt'>,
  image: { bytes: Uint8Array; contentType: string },
  facts: CaptureFacts,
): ReceiptBody {
  const options: Record<string, unknown> = { ...job.options };
  const withheld: Record<string, string> = {};
  for (const field of WITHHELD_OPTIONS) {
    if (options[field] === undefined) continue;
    withheld[field] = job.receiptSalt ? commitment(job.receiptSalt, options[field]) : 'omitted';
    delete options[field];
  }
  const connections = facts.connections
    ? [...facts.connections].sort((a, b) => a.host.localeCompare(b.host) || a.port - b.port || a.address.localeCompare(b.address))
    : null;
  return {
    type: RECEIPT_TYPE,
    jobId: job.id,
    request: { url: job.url, options, withheld, ...(job.html ? { html: { sha256: job.html.sha256 } } : {}) },
    finalUrl: facts.finalUrl,
    httpStatus: facts.httpStatus,
    addresses: connections ? [...new Set(connections.map((c) => c.address))].sort() : null,
    connections,
    image: { sha256: sha256Hex(image.bytes), bytes: image.bytes.length, contentType: image.contentType },
    browser: facts.browser,
    requestedAt: job.requestedAt,
    startedAt: facts.startedAt,
    capturedAt: facts.capturedAt,
  };
}

export function signReceipt(body: ReceiptBody, key: ReceiptKey): Receipt {
  const value = sign(null, Buffer.from(canonicalJson(body)), key.privateKey).toString('base64');
  return { ...body, signature: { algorithm: 'Ed25519', keyId: key.keyId, value } };
}

/** The options by which a caller changes what the page itself shows, and what each does. */
const PAGE_CHANGING_OPTIONS: Record<string, string> = {
  scripts: 'ran caller JavaScript in the page',
  styles: 'added caller CSS to the page',
  hideSelectors: 'hid elements',
  click: 'clicked an element',
  scrollTo: 'scrolled an element into view',
  cookies: 'set cookies (a logged-in or otherwise personalised page)',
  headers: 'sent extra request headers',
  authentication: 'answered HTTP authentication (a page behind a login)',
  userAgent: 'set the User-Agent',
  device: 'emulated a device',
  timezone: 'set the time zone',
  locale: 'set the locale',
  darkMode: 'asked for the dark color scheme',
  deterministic: 'froze the clock, random numbers and animations',
  now: 'set the time the page sees',
  disableAnimations: 'stopped animations',
  blockAds: 'blocked ads',
  blockTrackers: 'blocked trackers',
  blockCookieBanners: 'answered and hid cookie banners',
};

const defaults = screenshotOptionsSchema.parse({}) as Record<string, unknown>;

/**
 * Every caller choice in the receipt that changed what the page showed, as "<option>: <what it
 * did>": the image shows the page as these made it, not as any visitor would have seen it.
 */
export function callerChanges(receipt: Pick<ReceiptBody, 'request'>): string[] {
  const { options, withheld, html } = receipt.request;
  const out: string[] = [];
  if (html) out.push(`html: the caller supplied the document (SHA-256 ${html.sha256}); no site served it`);
  for (const [name, what] of Object.entries(PAGE_CHANGING_OPTIONS)) {
    if (withheld[name] !== undefined) out.push(`${name}: ${what} (withheld: ${withheld[name]})`);
    else if (options[name] !== undefined && canonicalJson(options[name]) !== canonicalJson(defaults[name] ?? null)) {
      out.push(`${name}: ${what} (${canonicalJson(options[name])})`);
    }
  }
  return out;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * Checks a receipt (as parsed from its file) against a public key and, when given, the image's
 * bytes. Every check is reported, passed or not; the receipt holds only if all pass.
 */
export function verifyReceipt(receipt: unknown, key: { publicKey: KeyObject; keyId: string }, image?: Uint8Array): Check[] {
  const checks: Check[] = [];
  const r = receipt as Partial<Receipt> | null;
  if (!r || typeof r !== 'object' || r.type !== RECEIPT_TYPE || !r.signature || typeof r.signature.value !== 'string') {
    return [{ name: 'format', ok: false, detail: `not a ${RECEIPT_TYPE} receipt with a signature` }];
  }
  const { signature, ...body } = r;
  checks.push({
    name: 'key',
    ok: signature.keyId === key.keyId,
    detail:
      signature.keyId === key.keyId
        ? `signed with key ${key.keyId}`
        : `signed with key ${signature.keyId}, but the key given is ${key.keyId}`,
  });
  let valid = false;
  try {
    valid =
      signature.algorithm === 'Ed25519' &&
      verify(null, Buffer.from(canonicalJson(body)), key.publicKey, Buffer.from(signature.value, 'base64'));
  } catch {
    valid = false;
  }
  checks.push({
    name: 'signature',
    ok: valid,
    detail: valid
      ? 'the Ed25519 signature matches the receipt'
      : 'the signature does not match: the receipt was changed after signing, or another key signed it',
  });
  if (image) {
    const digest = sha256Hex(image);
    const expected = body.image;
    const same = expected?.sha256 === digest && expected?.bytes === image.length;
    checks.push({
      name: 'image',
      ok: same,
      detail: same
        ? `the image's SHA-256 (${digest}) and size (${image.length} bytes) match the receipt`
        : `the image does not match: SHA-256 ${digest} and ${image.length} bytes, the receipt says ${expected?.sha256} and ${expected?.bytes} bytes`,
    });
  }
  return checks;
}
