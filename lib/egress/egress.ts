// The filtering forward proxy every browser request goes through. It resolves each host once,
// checks every resolved address against the policy and connects to that exact address, so a
// DNS answer that changes between the check and the connection (rebinding) changes nothing.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { type EgressAllowList, defaultPort, refuseUnsafeAddress } from './url-policy.js';

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * `dns_not_found`: the name does not exist (permanent). `dns_unavailable`: the lookup itself failed
 * (timeout, SERVFAIL), which a retry may cure.
 */
export type Verdict =
  | { allowed: true; address: string }
  | { allowed: false; code: 'url_refused' | 'dns_not_found' | 'dns_unavailable'; reason: string };

/** getaddrinfo/c-ares answers that mean "this name has no address", as opposed to "lookup failed". */
const NAME_DOES_NOT_EXIST = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME', 'NXDOMAIN', 'EAI_NONAME']);

/** Header on the proxy's own refusals, so the renderer can tell them from the site's answers. */
const REFUSAL_HEADER = 'x-url2png-egress';
/**
 * A page's server can send REFUSAL_HEADER too (an https answer passes the proxy sealed), e.g. to
 * fake a DNS failure and force retries. So the proxy's own refusals also carry this per-process
 * secret, which no page can know, and the proxy strips both headers from every plain-http answer.
 */
const TOKEN_HEADER = 'x-url2png-egress-token';
const REFUSAL_TOKEN = randomBytes(16).toString('hex');
const refusalHeaders = (code: string) => ({ [REFUSAL_HEADER]: code, [TOKEN_HEADER]: REFUSAL_TOKEN });

/** The proxy's refusal code, if (and only if) this process's proxy wrote these response headers. */
export function egressRefusal(headers: Record<string, string | undefined>): string | undefined {
  const code = headers[REFUSAL_HEADER];
  const token = Buffer.from(headers[TOKEN_HEADER] ?? '');
  const expected = Buffer.from(REFUSAL_TOKEN);
  return code && token.length === expected.length && timingSafeEqual(token, expected) ? code : undefined;
}

/**
 * The proxy's deadlines (and the resolver's): a host may accept and never answer, or trickle.
 * Connect: TCP handshake. Idle: no byte either way. Total: one request or tunnel, start to end;
 * well past any render deadline, it only reaps what a closed page left behind.
 */
const PROXY_DEADLINES = { dnsMs: 5_000, connectMs: 10_000, idleMs: 30_000, totalMs: 120_000 } as const;

export class EgressGuard {
  constructor(
    private readonly allow: EgressAllowList,
    private readonly resolve: Resolver = systemResolver,
  ) {}

  /** Decides one destination and names the one address to connect to. */
  async check(host: string, port: number): Promise<Verdict> {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    const allowListed = this.allow.allows(bare, port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return refused(`${host}:${port}: not a valid port`);
    if (ipaddr.isValid(bare)) {
      const reason = allowListed ? undefined : refuseUnsafeAddress(bare);
      // Connect to the canonical form of what was checked, never to a spelling the OS may read differently.
      return reason ? refused(`${host}:${port}: ${reason}`) : { allowed: true, address: ipaddr.parse(bare).toString() };
    }
    let addresses: string[];
    try {
      addresses = await withDeadline(this.resolve(bare), PROXY_DEADLINES.dnsMs);
    } catch (error) {
      const code = String((error as { code?: unknown })?.code ?? '');
      return NAME_DOES_NOT_EXIST.has(code)
        ? { allowed: false, code: 'dns_not_found', reason: `the host name ${bare} does not exist (${code})` }
        : { allowed: false, code: 'dns_unavailable', reason: `looking up ${bare} failed (${code || 'error'}); try again later` };
    }
    if (addresses.length === 0) {
      return { allowed: false, code: 'dns_not_found', reason: `the host name ${bare} has no addresses` };
    }
    // Every address must pass: the browser might be steered to any of them.
    for (const address of addresses) {
      if (!ipaddr.isValid(address)) return refused(`${bare} resolves to "${address}", which is not an IP address`);
      const reason = allowListed ? undefined : refuseUnsafeAddress(address);
      if (reason) return refused(`${bare} resolves to ${reason}`);
    }
    return { allowed: true, address: ipaddr.parse(addresses[0]!).toString() };
  }

  /** A whole URL: scheme and credentials first (no network), then the host as check() sees it. */
  async checkUrl(raw: string): Promise<Verdict> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return refused(`"${raw.slice(0, 100)}" is not an absolute URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return refused(`the scheme "${url.protocol.slice(0, -1)}" is not allowed; only http and https are fetched`);
    }
    if (url.username || url.password) return refused('URLs with credentials (user:password@) are not fetched');
    const port = url.port ? Number(url.port) : defaultPort(url.protocol);
    return this.check(url.hostname, port);
  }
}

const refused = (reason: string): Verdict => ({ allowed: false, code: 'url_refused', reason });

/** A lookup that does not answer in time fails like a SERVFAIL (dns_unavailable: retried). */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let handle: NodeJS.Timeout;
  const expired = new Promise<never>((_, reject) => {
    handle = setTimeout(() => reject(Object.assign(new Error(`no DNS answer within ${ms} ms`), { code: 'ETIMEOUT' })), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(handle));
}

export interface EgressProxy {
  readonly port: number;
  readonly url: string;
  /** Connections refused since start (for tests and metrics). */
  readonly refusals: number;
  /** The most recent refusals (at most 1000), oldest first: which destination and why. */
  readonly refusalLog: readonly Refusal[];
  /**
   * A port of its own for one job: the same proxy and policy, but every upstream connection made
   * through it is recorded, so the job can tell which addresses were really connected to even when
   * other jobs' pages use the proxy at the same time. Close it when the job ends.
   */
  openSession(): Promise<EgressSession>;
  close(): Promise<void>;
}

export interface EgressSession {
  readonly url: string;
  /** Upstream connections made for this session, one per distinct host, port and address. */
  readonly connections: readonly UpstreamConnection[];
  close(): Promise<void>;
}

export interface UpstreamConnection {
  /** The host the browser asked for (a name or a literal address). */
  host: string;
  port: number;
  /** The address the proxy connected to, after its own lookup and check. */
  address: string;
}

interface Refusal {
  kind: 'http' | 'connect' | 'upgrade';
  host: string;
  port: number;
  code: string;
}

const REFUSAL_LOG_SIZE = 1000;

/** Starts the proxy on 127.0.0.1 (port 0 picks a free one). */
export async function startEgressProxy(guard: EgressGuard, port = 0): Promise<EgressProxy> {
  let refusals = 0;
  const refusalLog: Refusal[] = [];
  const noteRefusal = (entry: Refusal) => {
    refusals++;
    refusalLog.push(entry);
    if (refusalLog.length > REFUSAL_LOG_SIZE) refusalLog.shift();
  };
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  // Which session a browser connection came in through (see openSession), and what it reached.
  const sessionOf = new WeakMap<net.Socket, Map<string, UpstreamConnection>>();
  const noteConnection = (from: net.Socket, host: string, port: number, address: string) => {
    sessionOf.get(from)?.set(`${host}|${port}|${address}`, { host, port, address });
  };

  const server = http.createServer(async (req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
      if (target.protocol !== 'http:') throw new Error('scheme');
    } catch {
      noteRefusal({ kind: 'http', host: '', port: 0, code: 'url_refused' });
      res.writeHead(400, refusalHeaders('url_refused')).end('url2png egress: only absolute http URLs are proxied\n');
      return;
    }
    const port = target.port ? Number(target.port) : 80;
    const verdict = await guard.check(target.hostname, port);
    if (!verdict.allowed) {
      noteRefusal({ kind: 'http', host: target.hostname, port, code: verdict.code });
      res
        .writeHead(verdict.code === 'url_refused' ? 403 : 502, {
          ...refusalHeaders(verdict.code),
          'content-type': 'text/plain; charset=utf-8',
        })
        .end(`url2png egress: ${verdict.reason}\n`);
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request({
      host: verdict.address,
      port,
      method: req.method,
      path: target.pathname + target.search,
      headers,
      setHost: false,
      timeout: PROXY_DEADLINES.connectMs,
    });
    // Whatever happens upstream (no answer, a malformed status line or header, a reset), the
    // browser gets a 502, or the body as far as it came, and nothing is thrown out of this handler.
    // (A chunked body cut off mid-way just ends, so the document shows as far as it came.)
    const fail = () => {
      clearTimeout(total);
      upstream.destroy();
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('url2png egress: bad or no answer from upstream\n');
      else res.end();
    };
    const total = setTimeout(fail, PROXY_DEADLINES.totalMs);
    upstream.on('socket', (socket) => {
      // Connect deadline first; once connected (or on a kept-alive socket), the idle deadline.
      const connected = () => {
        upstream.setTimeout(PROXY_DEADLINES.idleMs);
        noteConnection(req.socket, target.hostname, port, verdict.address);
      };
      if (socket.connecting) socket.once('connect', connected);
      else connected(); // a kept-alive connection, already open
    });
    upstream.on('timeout', fail);
    upstream.on('error', fail);
    upstream.on('response', (up) => {
      up.on('error', fail);
      if (!relayHead(res, up)) return fail();
      up.pipe(res);
      up.on('end', () => clearTimeout(total));
    });
    // The browser went away (page closed, fetch aborted): so does the upstream request.
    res.on('close', () => {
      clearTimeout(total);
      if (!res.writableFinished) upstream.destroy();
    });
    req.on('error', fail);
    req.pipe(upstream);
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  const tunnel = async (kind: 'connect' | 'upgrade', req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    client.on('error', () => client.destroy());
    let host: string;
    let port: number;
    if (kind === 'connect') {
      const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(req.url ?? '');
      if (!m) {
        noteRefusal({ kind, host: '', port: 0, code: 'url_refused' });
        return deny(client, 400, 'bad CONNECT target');
      }
      host = m[1]!;
      port = Number(m[2]);
    } else {
      try {
        const u = new URL(req.url ?? '');
        host = u.hostname;
        port = u.port ? Number(u.port) : 80;
      } catch {
        noteRefusal({ kind, host: '', port: 0, code: 'url_refused' });
        return deny(client, 400, 'bad upgrade target');
      }
    }
    const verdict = await guard.check(host, port);
    if (!verdict.allowed) {
      noteRefusal({ kind, host, port, code: verdict.code });
      return deny(client, verdict.code === 'url_refused' ? 403 : 502, verdict.reason, verdict.code);
    }
    const upstream = net.connect({ host: verdict.address, port, timeout: PROXY_DEADLINES.connectMs });
    track(upstream);
    let connected = false;
    const total = setTimeout(() => upstream.destroy(new Error('total deadline')), PROXY_DEADLINES.totalMs);
    // Connect deadline until connected, then the idle deadline (no byte either way).
    upstream.on('timeout', () => upstream.destroy(new Error(connected ? 'idle' : 'connect timeout')));
    upstream.on('close', () => {
      clearTimeout(total);
      client.destroy();
    });
    upstream.on('error', () => {
      // Before the tunnel is up the client still expects a status line; after, only a hang-up.
      if (connected) client.destroy();
      else deny(client, 502, 'upstream connection failed', 'upstream_failed');
    });
    upstream.once('connect', () => {
      connected = true;
      noteConnection(req.socket, host, port, verdict.address);
      upstream.setTimeout(PROXY_DEADLINES.idleMs);
      if (kind === 'connect') {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      } else {
        const u = new URL(req.url ?? '');
        const lines = [`${req.method} ${u.pathname}${u.search} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      }
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    client.on('close', () => upstream.destroy());
  };

  server.on('connect', (req, client, head) => void tunnel('connect', req, client, head));
  server.on('upgrade', (req, client, head) => void tunnel('upgrade', req, client, head));
  server.on('connection', track);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  // The proxy serves the browser; it must not by itself keep a process (or `invoke local`) alive.
  server.unref();
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    get refusals() {
      return refusals;
    },
    get refusalLog() {
      return refusalLog;
    },
    async openSession() {
      // A listener of its own that hands each connection to the one proxy server, marked as the
      // session's: the policy and the code paths stay exactly those of the shared port.
      const seen = new Map<string, UpstreamConnection>();
      const mine = new Set<net.Socket>();
      const listener = net.createServer((socket) => {
        sessionOf.set(socket, seen);
        mine.add(socket);
        socket.once('close', () => mine.delete(socket));
        server.emit('connection', socket);
      });
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(0, '127.0.0.1', () => resolve());
      });
      listener.unref();
      return {
        url: `http://127.0.0.1:${(listener.address() as AddressInfo).port}`,
        get connections() {
          return [...seen.values()];
        },
        close: () =>
          new Promise<void>((resolve) => {
            for (const s of mine) s.destroy();
            listener.close(() => resolve());
          }),
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function deny(client: Duplex, status: number, reason: string, code = 'url_refused'): void {
  if (client.destroyed || !client.writable) return;
  const body = `url2png egress: ${reason}\n`;
  client.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${REFUSAL_HEADER}: ${code}\r\n${TOKEN_HEADER}: ${REFUSAL_TOKEN}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Copies an upstream answer's status and headers to the browser, minus any copy of the proxy's own
 * refusal headers. false: Node would not write them (a status outside 100-999, a reason phrase
 * or header with bytes HTTP forbids), so the caller answers 502 instead.
 */
function relayHead(res: http.ServerResponse, up: http.IncomingMessage): boolean {
  const status = up.statusCode ?? 0;
  if (!Number.isInteger(status) || status < 100 || status > 999) return false;
  const raw: string[] = [];
  for (let i = 0; i < up.rawHeaders.length; i += 2) {
    const name = up.rawHeaders[i]!.toLowerCase();
    if (name === REFUSAL_HEADER || name === TOKEN_HEADER) continue;
    raw.push(up.rawHeaders[i]!, up.rawHeaders[i + 1]!);
  }
  try {
    res.writeHead(status, up.statusMessage?.replace(/[^\t\x20-\x7e\x80-\xff]/g, ''), raw);
    return true;
  } catch {
    return false;
  }
}
