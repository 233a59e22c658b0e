import { describe, expect, it } from 'vitest';
import { parseScreenshotRequest } from '../../lib/request.js';
import { EgressAllowList } from '../../lib/url-policy.js';

const none = new EgressAllowList([]);
const parse = (body: unknown, allow = none) => parseScreenshotRequest(body, allow);

describe('screenshot request schema', () => {
  it('fills the documented defaults', () => {
    expect(parse({ url: 'https://example.com' })).toEqual({
      ok: true,
      request: {
        url: 'https://example.com/',
        width: 1280,
        height: 800,
        deviceScaleFactor: 1,
        fullPage: false,
        format: 'png',
        waitUntil: 'load',
        delay: 0,
        darkMode: false,
        hideSelectors: [],
        cache: false,
        deterministic: false,
      },
    });
  });

  it.each([
    [{ url: 'https://example.com', width: 319 }, /width must be at least 320/],
    [{ url: 'https://example.com', width: 3841 }, /width must be at most 3840/],
    [{ url: 'https://example.com', height: 199 }, /height must be at least 200/],
    [{ url: 'https://example.com', height: 2161 }, /height must be at most 2160/],
    [{ url: 'https://example.com', width: 1000.5 }, /width must be a whole number from 320 to 3840/],
    [{ url: 'https://example.com', width: '1000' }, /width must be a whole number/],
    [{ url: 'https://example.com', fullPage: 'yes' }, /fullPage must be true or false/],
    [{}, /url is required/],
    [{ url: '' }, /url must not be empty/],
    [{ url: `https://example.com/${'a'.repeat(2048)}` }, /at most 2048 characters/],
    [{ url: 'https://example.com', colour: 'red' }, /unknown field\(s\) "colour"/],
  ])('refuses %j with a message naming the field', (body, message) => {
    const result = parse(body);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problem.code).toBe('invalid_request');
      expect(result.problem.message).toMatch(message);
    }
  });

  it.each([
    ['javascript:alert(1)', /scheme "javascript" is not allowed/],
    ['file:///etc/passwd', /scheme "file" is not allowed/],
    ['not a url', /not an absolute URL/],
    ['https://user:pw@example.com/', /credentials/],
    ['http://127.0.0.1:8080/', /loopback/],
    ['http://localhost/', /local name/],
    ['http://169.254.169.254/latest/meta-data/', /linkLocal/],
  ])('refuses the URL %s and says why', (url, message) => {
    const result = parse({ url });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problem.code).toBe('url_refused');
      expect(result.problem.message).toMatch(message);
    }
  });

  it('opens exactly the allow-listed origin, port included', () => {
    const allow = new EgressAllowList(['127.0.0.1:8080']);
    expect(parse({ url: 'http://127.0.0.1:8080/page' }, allow).ok).toBe(true);
    expect(parse({ url: 'http://127.0.0.1:8081/page' }, allow).ok).toBe(false);
  });

  it('keeps every viewport within the pixel budget: width x height x deviceScaleFactor² <= 50 MP, refused naming the fields', () => {
    const url = 'https://example.com/';
    expect(parse({ url, width: 3840, height: 2160, deviceScaleFactor: 2 }).ok).toBe(true); // 33.2 MP
    for (const body of [
      { url, width: 3840, height: 2160, deviceScaleFactor: 3 }, // 74.6 MP
      { url, width: 3840, height: 2160, deviceScaleFactor: 2.5 }, // 51.8 MP
    ]) {
      const result = parse(body);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.problem.code).toBe('invalid_request');
        expect(result.problem.message).toMatch(/deviceScaleFactor.*50,000,000/);
      }
    }
  });

  it('refuses a body that is not an object', () => {
    for (const body of [null, [], 'https://example.com', 42]) {
      const result = parse(body);
      expect(result.ok).toBe(false);
    }
  });
});
