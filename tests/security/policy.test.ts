// The policy and the proxy without a browser: every resolved address, the allow-list's exactness,
// DNS rebinding at the proxy, and the proxy's refusals over real HTTP/CONNECT.
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressGuard, startEgressProxy, type EgressProxy } from '../../lib/egress/egress.js';
import { EgressAllowList, refuseUnsafeAddress } from '../../lib/egress/url-policy.js';
import { scriptedResolver, startCanary, type Canary } from './support.js';

// Addresses a resolver might answer, each refused with the reason's key word.
const RESOLVED_REFUSED: Array<[string, RegExp]> = [
  ['127.0.0.1', /loopback/],
  ['127.255.255.254', /loopback/],
  ['10.1.2.3', /private/],
  ['172.31.255.255', /private/],
  ['192.168.0.1', /private/],
  ['169.254.169.254', /linkLocal/],
  ['100.64.0.1', /carrierGradeNat/],
  ['100.127.255.255', /carrierGradeNat/],
  ['0.0.0.0', /unspecified/],
  ['0.1.2.3', /unspecified/],
  ['224.0.0.251', /multicast/],
  ['239.255.255.250', /multicast/],
  ['255.255.255.255', /broadcast/],
  ['240.0.0.1', /reserved/],
  ['192.0.0.8', /reserved/],
  ['198.18.0.1', /reserved/],
  ['::1', /loopback/],
  ['::', /unspecified/],
  ['fd00:ec2::254', /uniqueLocal/],
  ['fc00::1', /uniqueLocal/],
  ['fe80::1', /linkLocal/],
  ['fec0::1', /SiteLocal/],
  ['ff02::1', /multicast/],
  ['::ffff:127.0.0.1', /embeds .*loopback/],
  ['::ffff:169.254.169.254', /embeds .*linkLocal/],
  ['::ffff:0:10.0.0.1', /embeds .*private/],
  ['::10.0.0.1', /embeds .*private/],
  ['64:ff9b::7f00:1', /embeds .*loopback/],
  ['64:ff9b::a9fe:a9fe', /embeds .*linkLocal/],
  ['64:ff9b:1::8.8.8.8', /local-use NAT64/],
  ['2002:c0a8:0101::1', /embeds .*private/],
  ['2001:0:4136:e378::1', /Teredo/],
  ['2001:db8::1', /reserved/],
  ['100::1', /discard/],
];

const PUBLIC = ['93.184.215.14', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '64:ff9b::808:808', '::ffff:8.8.8.8'];

describe('every resolved address is judged by the policy', () => {
  it(`${RESOLVED_REFUSED.length} non-public addresses are refused, with a reason`, () => {
    for (const [address, reason] of RESOLVED_REFUSED) expect.soft(refuseUnsafeAddress(address), address).toMatch(reason);
  });
  it('public addresses (and NAT64/mapped forms of public ones) pass', () => {
    for (const address of PUBLIC) expect.soft(refuseUnsafeAddress(address), address).toBeUndefined();
  });
  it('a name is refused when any of its answers is refused, and does not exist when it has none', async () => {
    const guard = new EgressGuard(
      new EgressAllowList([]),
      scriptedResolver({ 'mixed.test': [['8.8.8.8', '10.0.0.1']], 'public.test': [['8.8.8.8']], 'junk.test': [['not-an-ip']] }),
    );
    expect(await guard.check('mixed.test', 80)).toMatchObject({ allowed: false, code: 'url_refused' });
    expect(await guard.check('public.test', 80)).toEqual({ allowed: true, address: '8.8.8.8' });
    expect(await guard.check('junk.test', 80)).toMatchObject({ allowed: false, code: 'url_refused' });
    expect(await guard.check('nope.test', 80)).toMatchObject({ allowed: false, code: 'dns_not_found' });
  });
  it('a lookup that fails (not "no such name") is dns_unavailable, which the renderer retries', async () => {
    const guard = new EgressGuard(new EgressAllowList([]), async () => {
      throw Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
    });
    expect(await guard.check('slow.test', 80)).toMatchObject({ allowed: false, code: 'dns_unavailable' });
  });
  it('the allow-list opens exact host:port origins only: not other ports, spellings or ranges', async () => {
    const allow = new EgressAllowList(['127.0.0.1:8080', 'localhost:9000']);
    const guard = new EgressGuard(allow, scriptedResolver({ localhost: [['127.0.0.1']] }));
    expect(await guard.check('127.0.0.1', 8080)).toMatchObject({ allowed: true });
    expect(await guard.check('127.0.0.1', 8081)).toMatchObject({ allowed: false });
    expect(await guard.check('127.0.0.2', 8080)).toMatchObject({ allowed: false });
    expect(await guard.check('[::1]', 8080)).toMatchObject({ allowed: false });
    expect(await guard.check('localhost', 8080)).toMatchObject({ allowed: false });
    expect(await guard.check('localhost', 9000)).toMatchObject({ allowed: true });
    expect(() => new EgressAllowList(['10.0.0.0/8'])).toThrow(/host:port/);
    expect(() => new EgressAllowList(['127.0.0.1'])).toThrow(/host:port/);
  });
  it('checkUrl refuses other schemes and credentials before any lookup', async () => {
    const resolver = scriptedResolver({});
    const guard = new EgressGuard(new EgressAllowList([]), resolver);
    for (const url of ['file:///etc/passwd', 'ftp://a.test/', 'gopher://a.test/', 'https://u:p@a.test/', 'not a url']) {
      expect.soft(await guard.checkUrl(url), url).toMatchObject({ allowed: false, code: 'url_refused' });
    }
    expect(resolver.calls).toEqual([]);
  });
});

describe('the proxy over real sockets', () => {
  let canary: Canary;
  let proxy: EgressProxy;
  const resolver = scriptedResolver({
    // Rebinding: public first, loopback after. The proxy resolves once per request and connects
    // to what it checked, so the second answer is what the second request is judged on.
    'rebind.test': [['10.0.0.1'], ['127.0.0.1']],
    'loop.test': [['127.0.0.1']],
  });

  beforeAll(async () => {
    canary = await startCanary();
    proxy = await startEgressProxy(new EgressGuard(new EgressAllowList([]), resolver));
  });
  afterAll(async () => {
    await proxy?.close();
    await canary?.close();
  });

  const viaProxy = (target: string) =>
    new Promise<{ status: number; refusal?: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: proxy.port, path: target, headers: { host: new URL(target).host } }, (res) => {
          res.resume();
          resolve({ status: res.statusCode!, refusal: res.headers['x-url2png-egress'] as string | undefined });
        })
        .on('error', reject);
    });

  const connectVia = (authority: string) =>
    new Promise<string>((resolve, reject) => {
      const s = net.connect(proxy.port, '127.0.0.1', () => s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
      let data = '';
      s.on('data', (d) => {
        data += d.toString();
        if (data.includes('\r\n\r\n')) {
          s.destroy();
          resolve(data.split('\r\n')[0]!);
        }
      });
      s.on('error', reject);
      s.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
    });

  it('HTTP, CONNECT and WebSocket-upgrade requests to the canary are refused; the canary counts zero', async () => {
    const p = canary.port;
    for (const target of [`http://127.0.0.1:${p}/`, `http://loop.test:${p}/`, `http://[::ffff:7f00:1]:${p}/`, `http://0x7f.1:${p}/`]) {
      expect.soft(await viaProxy(target), target).toMatchObject({ status: 403, refusal: 'url_refused' });
    }
    for (const authority of [`127.0.0.1:${p}`, `loop.test:${p}`, `[::1]:${p}`, `2130706433:${p}`, `garbage`]) {
      expect.soft(await connectVia(authority), authority).toMatch(/^HTTP\/1\.1 (403|400)/);
    }
    expect(canary.count).toBe(0);
  });

  it('rebinding: every request resolves once and is judged on that answer; loopback is never reached', async () => {
    const before = resolver.calls.length;
    // First answer: 10.0.0.1 (private: refused too, and unreachable); second: 127.0.0.1.
    expect(await viaProxy(`http://rebind.test:${canary.port}/`)).toMatchObject({ status: 403 });
    expect(await connectVia(`rebind.test:${canary.port}`)).toMatch(/^HTTP\/1\.1 403/);
    expect(resolver.calls.length - before).toBe(2);
    expect(canary.count).toBe(0);
  });

  it('a name that does not exist is answered 502 dns_not_found', async () => {
    expect(await viaProxy('http://nope.test/')).toMatchObject({ status: 502, refusal: 'dns_not_found' });
  });
});
