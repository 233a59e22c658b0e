// Which URLs and addresses the service may fetch. One policy for the API (what it can decide
// without the network), the egress proxy (every resolved address) and the webhook caller.
import ipaddr from 'ipaddr.js';

export const MAX_URL_LENGTH = 2048;
const ALLOWED_SCHEMES = new Set(['http:', 'https:']);

/** `host:port` origins opened on purpose (URL2PNG_EGRESS_ALLOW). Exact entries, never ranges. */
export class EgressAllowList {
  private readonly origins: Set<string>;

  constructor(entries: readonly string[]) {
    this.origins = new Set(entries.map(normaliseAllowEntry));
  }

  allows(host: string, port: number): boolean {
    return this.origins.has(originKey(host, port));
  }
}

function originKey(host: string, port: number): string {
  const bare = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  return `${bare}|${port}`;
}

function normaliseAllowEntry(entry: string): string {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(entry.trim());
  if (!m) {
    throw new Error(`URL2PNG_EGRESS_ALLOW entry "${entry}" must be host:port (e.g. 127.0.0.1:8080)`);
  }
  return originKey(m[1]!, Number(m[2]));
}

/** Why an IP address may not be fetched, or undefined when it may. */
export function refuseUnsafeAddress(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return `"${address}" is not an IP address`;
  const ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv4') return refuseIPv4(ip as ipaddr.IPv4, address);
  return refuseIPv6(ip as ipaddr.IPv6, address);
}

function refuseIPv4(ip: ipaddr.IPv4, shown: string): string | undefined {
  const range = ip.range();
  return range === 'unicast' ? undefined : `${shown} is a ${range} address`;
}

function refuseIPv6(ip: ipaddr.IPv6, shown: string): string | undefined {
  const embedded = embeddedIPv4(ip);
  if (embedded) {
    const reason = refuseIPv4(embedded, embedded.toString());
    return reason ? `${shown} embeds ${reason}` : undefined;
  }
  const range = ip.range();
  if (range === 'teredo') return `${shown} is a Teredo tunnel address`;
  // RFC 8215 local-use NAT64 (64:ff9b:1::/48): translated to whatever the local network decides.
  if (range === 'rfc6052') return `${shown} is a local-use NAT64 address`;
  return range === 'unicast' ? undefined : `${shown} is a ${range} IPv6 address`;
}

/** The IPv4 address that an IPv4-mapped, -compatible, -translated, NAT64 or 6to4 address carries. */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = ip.parts;
  const low32 = () => new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
  const range = ip.range();
  if (range === 'ipv4Mapped' || range === 'rfc6145') return low32();
  // The well-known NAT64 prefix 64:ff9b::/96 carries the IPv4 address in its low 32 bits; the
  // local-use 64:ff9b:1::/48 (also 'rfc6052' to ipaddr.js) is refused whole by the caller.
  if (range === 'rfc6052' && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0) return low32();
  if (range === '6to4') return new ipaddr.IPv4([p[1]! >> 8, p[1]! & 0xff, p[2]! >> 8, p[2]! & 0xff]);
  // IPv4-compatible ::a.b.c.d (deprecated, but still routed by some stacks); :: and ::1 excluded.
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7]! > 1)) return low32();
  return undefined;
}

export interface ParsedTarget {
  url: URL;
  /** Hostname without IPv6 brackets. */
  host: string;
  port: number;
}

export function defaultPort(protocol: string): number {
  return protocol === 'https:' || protocol === 'wss:' ? 443 : 80;
}

/** Parses a URL the way the browser will (WHATWG), then returns why it may not be fetched. */
export function refuseUnsafeUrl(raw: string, allow: EgressAllowList): { refused: string } | { target: ParsedTarget } {
  if (raw.length > MAX_URL_LENGTH) {
    return { refused: `url is ${raw.length} characters long; the limit is ${MAX_URL_LENGTH}` };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { refused: 'url is not an absolute URL; send one like https://example.com/page' };
  }
  if (!ALLOWED_SCHEMES.has(url.protocol)) {
    return { refused: `url scheme "${url.protocol.slice(0, -1)}" is not allowed; use http or https` };
  }
  if (!url.hostname) return { refused: 'url has no host; send one like https://example.com/page' };
  if (url.username || url.password) {
    return { refused: 'url must not carry credentials (user:password@); remove them' };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : defaultPort(url.protocol);
  if (allow.allows(host, port)) return { target: { url, host, port } };
  // The WHATWG parser has already folded decimal, octal, hex, short and full-width forms of an
  // IPv4 literal into dotted quads, so one check covers every notation.
  if (ipaddr.isValid(host)) {
    const reason = refuseUnsafeAddress(host);
    if (reason) return { refused: `url points at a private or reserved address (${reason}); use a public host` };
  } else if (isLocalName(host)) {
    return { refused: `url host "${host}" is a local name; use a public host` };
  }
  return { target: { url, host, port } };
}

function isLocalName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    h.endsWith('.local') ||
    h.endsWith('.internal') ||
    h.endsWith('.home.arpa') ||
    !h.includes('.')
  );
}
