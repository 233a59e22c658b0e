// The filtering forward proxy every browser request goes through. It resolves each host once,
// checks every resolved address against the policy and connects to that exact address, so a
// DNS answer that changes between the check and the connection (rebinding) changes nothing.
import http from 'node:http';
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { type EgressAllowList, defaultPort, refuseUnsafeAddress } from './url-policy.js';

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

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
export const REFUSAL_HEADER = 'x-url2png-egress';

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
      addresses = await this.resolve(bare);
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
      res.writeHead(400, { [REFUSAL_HEADER]: 'url_refused' }).end('url2png egress: only absolute http URLs are proxied\n');
      return;
    }
    const port = target.port ? Number(target.port) : 80;
    const verdict = await guard.check(target.hostname, port);
    if (!verdict.allowed) {
      noteRefusal({ kind: 'http', host: target.hostname, port, code: verdict.code });
      res
        .writeHead(verdict.code === 'url_refused' ? 403 : 502, {
          [REFUSAL_HEADER]: verdict.code,
          'content-type': 'text/plain; charset=utf-8',
        })
        .end(`url2png egress: ${verdict.reason}\n`);
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request(
      { host: verdict.address, port, method: req.method, path: target.pathname + target.search, headers, setHost: false },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.rawHeaders);
        up.pipe(res);
      },
    );
    upstream.once('socket', (socket) => {
      const note = () => noteConnection(req.socket, target.hostname, port, verdict.address);
      if (socket.connecting) socket.once('connect', note);
      else note(); // a kept-alive connection, already open
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
  });

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
    const upstream = net.connect({ host: verdict.address, port });
    track(upstream);
    let connected = false;
    upstream.on('error', () => {
      // Before the tunnel is up the client still expects a status line; after, only a hang-up.
      if (connected) client.destroy();
      else deny(client, 502, 'upstream connection failed', 'upstream_failed');
    });
    upstream.once('connect', () => {
      connected = true;
      noteConnection(req.socket, host, port, verdict.address);
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
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${REFUSAL_HEADER}: ${code}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
