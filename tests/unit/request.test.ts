import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../lib/storage/cache.js';
import { parseScreenshotRequest, screenshotOptionsSchema } from '../../lib/contract/request.js';
import { EgressAllowList } from '../../lib/egress/url-policy.js';

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
        omitBackground: false,
        styles: [],
        scripts: [],
        disableAnimations: false,
        failOnHttpError: false,
        blockAds: false,
        blockTrackers: false,
        blockCookieBanners: false,
        extract: [],
        qualityFail: [],
        qualityChecks: true,
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
    [{}, /send exactly one of url and html/],
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

describe('capture-control fields (identity, device, injection, interaction, clip, html)', () => {
  const url = 'https://example.com/';
  it.each(
    (
      [
        [{ headers: ['x'] }, /headers must be an object of header names/],
        [{ headers: { 'x-a': 1 } }, /headers values must be strings/],
        [{ headers: { 'bad name': 'v' } }, /headers: "bad name" is not a valid header name/],
        [{ headers: { 'x-a': 'v\r\nx-b: injected' } }, /headers values must not contain line breaks/],
        [{ headers: { Host: 'evil.example' } }, /headers: "Host" cannot be set/],
        [{ headers: { 'Proxy-Authorization': 'x' } }, /headers: "Proxy-Authorization" cannot be set/],
        [{ headers: { cookie: 'a=b' } }, /use cookies for cookies/],
        [{ headers: { 'X-Url2png-Egress': 'ok' } }, /cannot be set/],
        [{ headers: { 'Transfer-Encoding': 'chunked' } }, /cannot be set/],
        [{ headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-h${i}`, 'v'])) }, /headers must have at most 20 entries/],
        [{ cookies: { name: 'a' } }, /cookies must be an array/],
        [{ cookies: [{ name: 'a' }] }, /cookies\[\]\.value must be a string/],
        [{ cookies: [{ name: 'a b', value: 'x' }] }, /cookies\[\]\.name must be a cookie name/],
        [{ cookies: [{ name: 'a', value: 'x;y' }] }, /cookies\[\]\.value must not contain ";"/],
        [{ cookies: [{ name: 'a', value: 'x', sameSite: 'lax' }] }, /cookies\[\]\.sameSite must be one of "Strict", "Lax", "None"/],
        [
          { cookies: [{ name: 'a', value: 'x', domain: 'other.example' }] },
          /cookies\[\]\.domain "other\.example" does not cover the page's host example\.com/,
        ],
        [{ cookies: [{ name: 'a', value: 'x', path: 'no-slash' }] }, /cookies\[\]\.path must start with "\/"/],
        [{ cookies: [{ name: 'a', value: 'x', expires: 'tomorrow' }] }, /cookies\[\]\.expires must be a Unix time in seconds/],
        [{ cookies: [{ name: 'a', value: 'x', colour: 'red' }] }, /unknown field\(s\) "colour"/],
        [{ cookies: Array.from({ length: 51 }, (_, i) => ({ name: `c${i}`, value: 'v' })) }, /cookies must have at most 50 entries/],
        [{ userAgent: '' }, /userAgent must not be empty/],
        [{ userAgent: 'x'.repeat(513) }, /userAgent must be at most 512 characters/],
        [{ userAgent: 'a\nb' }, /userAgent must not contain line breaks/],
        [{ authentication: 'user:pw' }, /authentication must be \{"username": "\.\.\.", "password": "\.\.\."\}/],
        [{ authentication: { username: '', password: 'x' } }, /authentication\.username must not be empty/],
        [{ authentication: { username: 'a:b', password: 'x' } }, /authentication\.username must not contain ":"/],
        [{ authentication: { username: 'a' } }, /authentication\.password must be a string/],
        [{ device: 'Nokia 3310' }, /device must be a device name from GET \/devices, e.g. "iPhone 15"/],
        [{ device: 3 }, /device must be a device name/],
        [{ timezone: 'Mars/Olympus' }, /timezone must be an IANA time zone name/],
        [{ timezone: 9 }, /timezone must be an IANA time zone name/],
        [{ locale: 'not a locale!' }, /locale must be a BCP 47 language tag/],
        [{ clip: [0, 0, 10, 10] }, /clip must be \{"x": 0, "y": 0, "width": 400, "height": 300\}/],
        [{ clip: { x: -1, y: 0, width: 10, height: 10 } }, /clip\.x must be at least 0/],
        [{ clip: { x: 0, y: 0, width: 0, height: 10 } }, /clip\.width must be at least 1/],
        [{ clip: { x: 0, y: 0, width: 10 } }, /clip\.height must be a number/],
        [{ clip: { x: 0, y: 0, width: 10, height: 10 }, selector: '#a' }, /clip cannot be combined with selector or fullPage/],
        [{ clip: { x: 0, y: 0, width: 10, height: 10 }, fullPage: true }, /clip cannot be combined with selector or fullPage/],
        // 3000 x (16000 + 1000) = 51 MP rendered, though the clip itself is 3 MP.
        [
          { width: 3000, clip: { x: 0, y: 16_000, width: 3000, height: 1000 } },
          /clip width x \(y \+ height\) x deviceScaleFactor² is 51,000,000 image pixels .* over the budget of 50,000,000; clip a smaller area, nearer the top/,
        ],
        [{ omitBackground: 'yes' }, /omitBackground must be true or false/],
        [{ omitBackground: true, format: 'jpeg' }, /omitBackground needs a format with transparency/],
        [{ styles: 'body{}' }, /styles must be an array of CSS strings/],
        [{ styles: [''] }, /styles\[\] must not be empty strings/],
        [{ styles: Array.from({ length: 11 }, () => 'a{}') }, /styles must have at most 10 entries/],
        [{ styles: ['x'.repeat(65 * 1024)] }, /styles must be at most 64 KB in all/],
        [{ scripts: [1] }, /scripts must be an array of JavaScript strings/],
        [{ scripts: ['x'.repeat(40_000), 'y'.repeat(40_000)] }, /scripts must be at most 64 KB in all/],
        [{ click: '' }, /click must not be empty/],
        [{ click: 5 }, /click must be a CSS selector string/],
        [{ scrollTo: 'x'.repeat(501) }, /scrollTo must be at most 500 characters/],
        [{ disableAnimations: 'true' }, /disableAnimations must be true or false/],
        [{ blockAds: 'true' }, /blockAds must be true or false/],
        [{ blockTrackers: 1 }, /blockTrackers must be true or false/],
        [{ blockCookieBanners: null }, /blockCookieBanners must be true or false/],
        [{ failOnHttpError: 1 }, /failOnHttpError must be true or false/],
      ] satisfies [object, RegExp][]
    ).map(([fields, message]) => [message.source, fields, message] as const),
  )('refuses: %s', (_, fields, message) => {
    const result = parse({ url, ...fields });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem.message).toMatch(message);
  });

  it.each(
    (
      [
        [{ url, html: '<p>x</p>' }, /send exactly one of url and html/],
        [{ html: '' }, /html must not be empty/],
        [{ html: 7 }, /html must be a string/],
        [{ html: 'x'.repeat(1024 * 1024 + 1) }, /html must be at most 1 MB/],
        [{ html: '<p>x</p>', headers: { 'x-a': 'b' } }, /headers applies to a page loaded from a url/],
        [{ html: '<p>x</p>', cookies: [{ name: 'a', value: 'b' }] }, /cookies applies to a page loaded from a url/],
        [{ html: '<p>x</p>', authentication: { username: 'a', password: 'b' } }, /authentication applies to a page loaded from a url/],
        [{ html: '<p>x</p>', failOnHttpError: true }, /failOnHttpError applies to a page loaded from a url/],
      ] satisfies [object, RegExp][]
    ).map(([body, message]) => [message.source, body, message] as const),
  )('html: refuses: %s', (_, body, message) => {
    const result = parse(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem.message).toMatch(message);
  });

  it('a device fills viewport, scale and user agent; explicit fields win; scale and width stay inside the bounds', () => {
    const phone = parse({ url, device: 'iPhone 15' });
    expect(phone.ok && phone.request).toMatchObject({
      device: 'iPhone 15',
      width: 393,
      height: 659,
      deviceScaleFactor: 3,
      userAgent: expect.stringContaining('iPhone'),
    });
    const mine = parse({ url, device: 'iPhone 15', width: 500, userAgent: 'mine/1' });
    expect(mine.ok && mine.request).toMatchObject({ width: 500, height: 659, userAgent: 'mine/1' });
    const dense = parse({ url, device: 'Galaxy S9+' });
    expect(dense.ok && dense.request).toMatchObject({ deviceScaleFactor: 3, width: 320 });
    const narrow = parse({ url, device: 'JioPhone 2' });
    expect(narrow.ok && narrow.request).toMatchObject({ width: 320 });
  });

  it('accepts the documented examples', () => {
    const result = parse({
      url,
      headers: { 'X-Team': 'docs', Authorization: 'Bearer t0k3n' },
      cookies: [
        {
          name: 'session',
          value: 'abc',
          domain: '.example.com',
          path: '/',
          secure: true,
          httpOnly: true,
          sameSite: 'Lax',
          expires: 1900000000,
        },
      ],
      userAgent: 'url2png/1',
      authentication: { username: 'ann', password: 's3cret' },
      timezone: 'Asia/Tokyo',
      locale: 'de-DE',
      clip: { x: 0, y: 0, width: 400, height: 300 },
      omitBackground: true,
      styles: ['body { background: none }'],
      scripts: ['document.title = "x"'],
      click: '#more',
      scrollTo: '#footer',
      disableAnimations: true,
      failOnHttpError: true,
    });
    expect(result.ok, JSON.stringify(result)).toBe(true);
    expect(parse({ html: '<h1>hello</h1>' }).ok).toBe(true);
  });
});

describe('blocking fields in the cache key', () => {
  it('leave the key of a request without them as it was, and give each flag its own key', () => {
    const key = (o: Record<string, unknown>) => cacheKey('https://example.com/', screenshotOptionsSchema.parse(o));
    expect(key({ blockAds: false, blockTrackers: false, blockCookieBanners: false })).toBe(key({}));
    const keys = new Set([key({}), key({ blockAds: true }), key({ blockTrackers: true }), key({ blockCookieBanners: true })]);
    expect(keys.size).toBe(4);
  });
});
