// The egress proxy against upstream servers that misbehave at the byte level (raw TCP, node:net),
// without a browser: every malformed answer becomes a 502 and the proxy keeps serving; a client
// that goes away takes its upstream request with it; the proxy's refusal headers cannot be forged
// by an upstream; a DNS lookup that never answers is cut off.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressGuard, egressRefusal, startEgressProxy, type EgressProxy } from '../../lib/egress/egress.js';
import { EgressAllowList } from '../../lib/egress/url-policy.js';
import { eventually } from '../support/eventually.js';

const ANSWERS: Record<string, string> = {
  '/status-099': 'HTTP/1.1 099 x\r\ncontent-length: 2\r\n\r\nok',
  '/status-1000': 'HTTP/1.1 1000 big\r\ncontent-length: 2\r\n\r\nok',
  '/status-abc': 'HTTP/1.1 abc nope\r\ncontent-length: 2\r\n\r\nok',
  '/reason-control': 'HTTP/1.1 200 O\x01K\x7f\r\ncontent-length: 5\r\n\r\nhello',
  '/header-control': 'HTTP/1.1 200 OK\r\nx-bad: a\x01b\r\ncontent-length: 5\r\n\r\nhello',
  '/header-name-space': 'HTTP/1.1 200 OK\r\nbad name: v\r\ncontent-length: 5\r\n\r\nhello',
  '/header-no-colon': 'HTTP/1.1 200 OK\r\nthis is not a header\r\ncontent-length: 5\r\n\r\nhello',
  '/two-lengths': 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\nhello',
  '/garbage': '\x00\x01\x02 not http at all\r\n\r\n',
  '/empty': '',
};

/**
 * What each answer becomes, exactly: a 502, except a reason phrase with control bytes, which Node's
 * parser (llhttp) accepts; the proxy then relays the status and body under a status line of its own.
 */
const EXPECTED: Record<keyof typeof ANSWERS, { status: 502 } | { status: 200; body: string }> = {
  '/status-099': { status: 502 },
  '/status-1000': { status: 502 },
  '/status-abc': { status: 502 },
  '/reason-control': { status: 200, body: 'hello' },
  '/header-control': { status: 502 },
  '/header-name-space': { status: 502 },
  '/header-no-colon': { status: 502 },
  '/two-lengths': { status: 502 },
  '/garbage': { status: 502 },
  '/empty': { status: 502 },
};

let upstream: net.Server;
let port = 0;
const open = new Set<net.Socket>();
let proxy: EgressProxy;

beforeAll(async () => {
  upstream = net.createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const path = head.split(' ')[1] ?? '/';
      if (path === '/hold') return; // answers nothing, keeps the connection
      if (path === '/forged') {
        return void socket.end(
          'HTTP/1.1 200 OK\r\nx-url2png-egress: dns_unavailable\r\nx-url2png-egress-token: 00\r\ncontent-length: 2\r\n\r\nok',
        );
      }
      socket.end(ANSWERS[path] ?? 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n', 'latin1');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  port = (upstream.address() as AddressInfo).port;
  // A resolver that never answers for one name: the proxy's DNS deadline must cut it off.
  const resolver = async (host: string) => (host === 'slow-dns.test' ? new Promise<string[]>(() => undefined) : ['127.0.0.1']);
  proxy = await startEgressProxy(new EgressGuard(new EgressAllowList([`127.0.0.1:${port}`, `slow-dns.test:${port}`]), resolver));
});

afterAll(async () => {
  await proxy?.close();
  for (const s of open) s.destroy();
  await new Promise<void>((r) => upstream?.close(() => r()));
});

function viaProxy(path: string, host = `127.0.0.1:${port}`): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: proxy.port, path: `http://${host}${path}`, headers: { host }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('the proxy survives any upstream bytes', () => {
  it.each(Object.entries(EXPECTED))('%s -> %o, and the proxy keeps serving', async (path, expected) => {
    const answer = await viaProxy(path).catch((error: Error) => ({ status: 0, headers: {}, body: error.message }));
    expect(answer.status).toBe(expected.status);
    if ('body' in expected) expect(answer.body).toBe(expected.body);
    expect((await viaProxy('/status-404-check')).status).toBe(404);
  });

  it("an upstream's copy of the refusal headers is stripped, and a forged one would not pass egressRefusal", async () => {
    const answer = await viaProxy('/forged');
    expect(answer.status).toBe(200);
    expect(answer.headers['x-url2png-egress']).toBeUndefined();
    expect(answer.headers['x-url2png-egress-token']).toBeUndefined();
    expect(egressRefusal({ 'x-url2png-egress': 'dns_unavailable', 'x-url2png-egress-token': '00' })).toBeUndefined();
  });

  it("the proxy's own refusal carries a token that egressRefusal accepts", async () => {
    const answer = await viaProxy('/', '10.0.0.1:80');
    expect(answer.status).toBe(403);
    expect(egressRefusal(answer.headers as Record<string, string>)).toBe('url_refused');
  });

  it('a client that goes away takes its upstream request with it (fetch-then-abort x 50)', async () => {
    for (let i = 0; i < 50; i++) {
      const req = http.get({
        host: '127.0.0.1',
        port: proxy.port,
        path: `http://127.0.0.1:${port}/hold`,
        headers: { host: `127.0.0.1:${port}` },
        agent: false,
      });
      req.on('error', () => undefined);
      await eventually(
        () => open.size,
        (n) => n > 0,
        2000,
      );
      req.destroy();
    }
    expect(
      await eventually(
        () => open.size,
        (n) => n === 0,
        5000,
      ),
    ).toBe(0);
  });

  it('a DNS lookup that never answers is cut off (5 s): 502 with dns_unavailable', async () => {
    const started = Date.now();
    const answer = await viaProxy('/', `slow-dns.test:${port}`);
    expect(answer.status).toBe(502);
    expect(egressRefusal(answer.headers as Record<string, string>)).toBe('dns_unavailable');
    expect(Date.now() - started).toBeLessThan(8000);
  });
});
