// The filtering forward proxy every browser request goes through. It resolves each host once,
// checks every resolved address against the policy and connects to that exact address, so a
// DNS answer that changes between the check and the connection (rebinding) changes nothing.
import http from 'node:http';
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { EgressAllowList, defaultPort, refuseUnsafeAddress } from './url-policy.js';

export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export type Verdict =
  | { allowed: true; address: string }
  | { allowed: false; code: 'url_refused' | 'dns_not_found'; reason: string };

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
    if (ipaddr.isValid(bare)) {
      const reason = allowListed ? undefined : refuseUnsafeAddress(bare);
      return reason ? refused(`${host}:${port}: ${reason}`) : { allowed: true, address: bare };
    }
    let addresses: string[];
    try {
      addresses = await this.resolve(bare);
    } catch {
      return { allowed: false, code: 'dns_not_found', reason: `the host name ${bare} does not resolve` };
    }
    if (addresses.length === 0) {
      return { allowed: false, code: 'dns_not_found', reason: `the host name ${bare} has no addresses` };
    }
    if (!allowListed) {
      // Every address must pass: the browser might be steered to any of them.
      for (const address of addresses) {
        const reason = refuseUnsafeAddress(address);
        if (reason) return refused(`${bare} resolves to ${reason}`);
      }
    }
    return { allowed: true, address: addresses[0]! };
  }

  async checkUrl(raw: string): Promise<Verdict> {
    const url = new URL(raw);
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
  close(): Promise<void>;
}

/** Starts the proxy on 127.0.0.1 (port 0 picks a free one). */
export async function startEgressProxy(guard: EgressGuard, port = 0): Promise<EgressProxy> {
  let refusals = 0;
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  const server = http.createServer(async (req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
      if (target.protocol !== 'http:') throw new Error('scheme');
    } catch {
      refusals++;
      res.writeHead(400, { [REFUSAL_HEADER]: 'url_refused' }).end('url2png egress: only absolute http URLs are proxied\n');
      return;
    }
    const port = target.port ? Number(target.port) : 80;
    const verdict = await guard.check(target.hostname, port);
    if (!verdict.allowed) {
      refusals++;
      res
        .writeHead(verdict.code === 'dns_not_found' ? 502 : 403, {
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
      if (!m) return deny(client, 400, 'bad CONNECT target');
      host = m[1]!;
      port = Number(m[2]);
    } else {
      try {
        const u = new URL(req.url ?? '');
        host = u.hostname;
        port = u.port ? Number(u.port) : 80;
      } catch {
        return deny(client, 400, 'bad upgrade target');
      }
    }
    const verdict = await guard.check(host, port);
    if (!verdict.allowed) {
      refusals++;
      return deny(client, verdict.code === 'dns_not_found' ? 502 : 403, verdict.reason, verdict.code);
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
      if (kind === 'connect') {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      } else {
        const u = new URL(req.url ?? '');
        const lines = [`${req.method} ${u.pathname}${u.search} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        upstream.write(lines.join('\r\n') + '\r\n\r\n');
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
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    get refusals() {
      return refusals;
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
