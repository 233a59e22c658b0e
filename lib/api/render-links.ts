// Signed render links: GET /render?url=...&<request fields>&keyId=...&expires=...&signature=...
// A link is a bearer token that the operator's key signed: HMAC-SHA256 with the key id's secret
// over the canonical query (every parameter but signature, sorted by name, each name and value
// encodeURIComponent-encoded, joined name=value by "&"). Secrets are per key id so that one can be
// revoked (removed) without the others: URL2PNG_RENDER_LINK_SECRETS locally, an SSM parameter on AWS.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Config } from '../contract/config.js';
import { clientSettings } from '../storage/aws.js';

/** The link's own parameters; every other parameter is a request field. */
const LINK_PARAMS = ['keyId', 'expires', 'signature'] as const;

export type LinkSecrets = ReadonlyMap<string, string>;

/** `keyId:secret[,keyId:secret...]`; a key id is letters, digits, `_` and `-`; a secret at least 16 characters. */
export function parseLinkSecrets(raw: string, where = 'URL2PNG_RENDER_LINK_SECRETS'): LinkSecrets {
  const secrets = new Map<string, string>();
  for (const entry of raw.split(',').map((s) => s.trim())) {
    if (!entry) continue;
    const at = entry.indexOf(':');
    const keyId = entry.slice(0, Math.max(0, at));
    const secret = entry.slice(at + 1);
    if (at < 1 || !/^[A-Za-z0-9_-]{1,64}$/.test(keyId))
      throw new Error(`${where}: "${keyId || entry.slice(0, 8)}..." is not keyId:secret (key ids: letters, digits, _ and -)`);
    if (secret.length < 16)
      throw new Error(`${where}: the secret of ${keyId} is shorter than 16 characters; use e.g. openssl rand -hex 32`);
    if (secrets.has(keyId)) throw new Error(`${where}: the key id ${keyId} appears twice`);
    secrets.set(keyId, secret);
  }
  return secrets;
}

/** Every parameter but signature, sorted by name (UTF-16 code units), encoded, joined by "&". */
export function canonicalQuery(params: Readonly<Record<string, string>>): string {
  return Object.keys(params)
    .filter((name) => name !== 'signature')
    .sort()
    .map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(params[name]!)}`)
    .join('&');
}

export const linkSignature = (secret: string, params: Readonly<Record<string, string>>): string =>
  createHmac('sha256', secret).update(canonicalQuery(params)).digest('hex');

/**
 * A request field as a query parameter: strings as they are, anything else as JSON (numbers,
 * true/false, objects, arrays). A string that would read as JSON is written as a JSON string.
 */
export function fieldParam(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  return looksLikeJson(value) ? JSON.stringify(value) : value;
}

/** The inverse of fieldParam: JSON when the value parses as JSON, else the string itself. `url` is always a string. */
export function paramField(name: string, raw: string): unknown {
  if (name === 'url' || !looksLikeJson(raw)) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function looksLikeJson(value: string): boolean {
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

/** A signed link to GET /render for these request fields, valid until `expires` (unix seconds). */
export function signRenderLink(
  baseUrl: string,
  fields: Readonly<Record<string, unknown>>,
  key: { keyId: string; secret: string; expires: number },
): string {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) params[name] = fieldParam(value);
  params.keyId = key.keyId;
  params.expires = String(key.expires);
  const query = canonicalQuery(params);
  return `${baseUrl.replace(/\/+$/, '')}/render?${query}&signature=${linkSignature(key.secret, params)}`;
}

export type LinkRefusal = { code: 'invalid_signature' | 'link_expired' | 'unknown_key' | 'render_links_disabled'; message: string };

/**
 * Checks a link's query: the signature (compared in constant time), the key id, the expiry. The
 * request fields it carries, or why it is refused (every refusal is a 403).
 */
export function verifyRenderLink(
  query: Readonly<Record<string, readonly string[]>>,
  secrets: LinkSecrets,
  now = Date.now(),
): { ok: true; fields: Record<string, unknown>; expires: number } | { ok: false; refusal: LinkRefusal } {
  const refuse = (code: LinkRefusal['code'], message: string) => ({ ok: false as const, refusal: { code, message } });
  if (secrets.size === 0) return refuse('render_links_disabled', 'this deployment has no render link keys; use POST /screenshots');
  const params: Record<string, string> = {};
  for (const [name, values] of Object.entries(query)) {
    // A parameter given twice would let what is signed and what is used disagree.
    if (values.length !== 1)
      return refuse('invalid_signature', `the parameter ${name} appears ${values.length} times; a link has each once`);
    params[name] = values[0]!;
  }
  const { keyId, expires, signature } = params;
  if (!keyId || !expires || !signature)
    return refuse('invalid_signature', 'a render link needs keyId, expires and signature; make one with npx url2png link <url>');
  const secret = secrets.get(keyId);
  if (!secret) return refuse('unknown_key', `the key ${keyId.slice(0, 64)} is not (or no longer) valid; ask for a new link`);
  const expected = Buffer.from(linkSignature(secret, params), 'hex');
  const given = /^[0-9a-f]{64}$/i.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return refuse(
      'invalid_signature',
      'the signature does not match the link (a parameter was changed, added or removed); ask for a new link',
    );
  // Checked after the signature, so that the time a link may be used is itself signed.
  if (!/^\d{1,12}$/.test(expires) || Number(expires) * 1000 < now)
    return refuse(
      'link_expired',
      `the link expired at ${/^\d{1,12}$/.test(expires) ? new Date(Number(expires) * 1000).toISOString() : expires}; ask for a new link`,
    );
  const fields: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(params))
    if (!(LINK_PARAMS as readonly string[]).includes(name)) fields[name] = paramField(name, raw);
  return { ok: true, fields, expires: Number(expires) };
}

/**
 * The screenshot request a verified link's fields stand for: a link is always served from the cache
 * (its TTL, `cache` seconds, or the default) and announces nothing. Why a field cannot be used, else
 * the fields to validate as a request.
 */
export function linkRequestFields(
  fields: Record<string, unknown>,
): { ok: true; fields: Record<string, unknown> } | { ok: false; message: string } {
  if (fields.callbackUrl !== undefined) return { ok: false, message: 'callbackUrl is not available on render links; drop it' };
  if (fields.cache === false) {
    return { ok: false, message: 'render links are always cached: set cache to a number of seconds (the TTL) or leave it out' };
  }
  return { ok: true, fields: { ...fields, cache: fields.cache ?? true } };
}

/**
 * The deployment's link secrets: on AWS an SSM SecureString parameter holding `keyId:secret,...`
 * (URL2PNG_RENDER_LINK_SECRETS_PARAMETER), read once per container; locally the variable itself.
 * A failed read is not kept, so the next request tries again.
 */
export function linkSecretsLoader(
  cfg: Pick<Config, 'region' | 'awsEndpoint' | 'emulatorSecret' | 'dataDir' | 'renderLinkSecrets' | 'renderLinkSecretsParameter'>,
): () => Promise<LinkSecrets> {
  let loaded: Promise<LinkSecrets> | undefined;
  return () =>
    (loaded ??= (async () => {
      if (!cfg.renderLinkSecretsParameter) return parseLinkSecrets(cfg.renderLinkSecrets);
      const ssm = new SSMClient(clientSettings(cfg));
      const out = await ssm.send(new GetParameterCommand({ Name: cfg.renderLinkSecretsParameter, WithDecryption: true }));
      return parseLinkSecrets(out.Parameter?.Value ?? '', `the SSM parameter ${cfg.renderLinkSecretsParameter}`);
    })().catch((error: Error) => {
      loaded = undefined;
      throw error;
    }));
}
