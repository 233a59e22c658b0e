// The render link's canonical form and signature, computed here independently from its written
// definition (docs/api.md), so that a client in any language can sign links the service accepts.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalQuery,
  fieldParam,
  linkSignature,
  paramField,
  parseLinkSecrets,
  signRenderLink,
  verifyRenderLink,
} from '../../lib/api/render-links.js';
import { preferredWait } from '../../lib/contract/wait.js';

const SECRET = 'unit-secret-0123456789';

describe('render link signatures', () => {
  it('sign every parameter but signature, sorted by name, encodeURIComponent-encoded, joined by &', () => {
    const params = { width: '640', url: 'https://example.com/a b?x=1&y=(2)', keyId: 'k1', expires: '2000000000', signature: 'ignored' };
    const canonical = 'expires=2000000000&keyId=k1&url=https%3A%2F%2Fexample.com%2Fa%20b%3Fx%3D1%26y%3D(2)&width=640';
    expect(canonicalQuery(params)).toBe(canonical);
    expect(linkSignature(SECRET, params)).toBe(createHmac('sha256', SECRET).update(canonical).digest('hex'));
  });

  it('a signed link verifies with its query as API Gateway decodes it, and not with one value changed', () => {
    const link = new URL(
      signRenderLink(
        'https://api.example/prod',
        { url: 'https://example.com/', width: 640, fullPage: true, selector: '#main' },
        { keyId: 'k1', secret: SECRET, expires: 2_000_000_000 },
      ),
    );
    expect(link.pathname).toBe('/prod/render');
    const query: Record<string, string[]> = {};
    for (const [k, v] of link.searchParams) query[k] = [...(query[k] ?? []), v];
    const secrets = parseLinkSecrets(`k1:${SECRET}`);
    const ok = verifyRenderLink(query, secrets, 1_900_000_000_000);
    expect(ok).toEqual({
      ok: true,
      expires: 2_000_000_000,
      fields: { url: 'https://example.com/', width: 640, fullPage: true, selector: '#main' },
    });
    expect(verifyRenderLink({ ...query, width: ['641'] }, secrets, 1_900_000_000_000)).toMatchObject({
      ok: false,
      refusal: { code: 'invalid_signature' },
    });
    expect(verifyRenderLink(query, secrets, 2_000_000_001_000)).toMatchObject({ ok: false, refusal: { code: 'link_expired' } });
    expect(verifyRenderLink(query, new Map(), 1_900_000_000_000)).toMatchObject({ ok: false, refusal: { code: 'render_links_disabled' } });
  });

  it('fields travel as strings or JSON, and a string that reads as JSON stays a string', () => {
    for (const value of ['plain', '#main', 'Asia/Tokyo', '123', 'true', '{"a":1}', 640, true, { 'X-Team': 'docs' }, ['a', 'b']]) {
      expect(paramField('selector', fieldParam(value))).toEqual(value);
    }
    expect(paramField('url', 'https://example.com/?a=1')).toBe('https://example.com/?a=1');
  });

  it('parses secrets and refuses malformed ones with what to change', () => {
    expect([...parseLinkSecrets(`k1:${SECRET}, k2:${SECRET}x`).keys()]).toEqual(['k1', 'k2']);
    expect(() => parseLinkSecrets('k1:short')).toThrow(/shorter than 16/);
    expect(() => parseLinkSecrets(`nocolon${SECRET}`)).toThrow(/not keyId:secret/);
    expect(() => parseLinkSecrets(`k1:${SECRET},k1:${SECRET}`)).toThrow(/appears twice/);
  });
});

describe('Prefer: wait=N', () => {
  it('reads the wait among other preferences and cuts it to 25 s', () => {
    expect(preferredWait(undefined)).toBeUndefined();
    expect(preferredWait('respond-async, wait=10')).toBe(10);
    expect(preferredWait('wait=600')).toBe(25);
    expect(preferredWait('return=minimal')).toBeUndefined();
  });
});
