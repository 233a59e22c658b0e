// format "pdf" and its settings go through the one request schema: every mismatch is refused by name.
import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../lib/storage/cache.js';
import { parseScreenshotRequest, screenshotOptionsSchema } from '../../lib/contract/request.js';
import { EgressAllowList } from '../../lib/egress/url-policy.js';

const parse = (body: Record<string, unknown>) => parseScreenshotRequest({ url: 'https://example.com', ...body }, new EgressAllowList([]));

describe('format "pdf"', () => {
  it('accepts pdf settings with format pdf', () => {
    const result = parse({
      format: 'pdf',
      pdf: { paper: 'Letter', landscape: true, printBackground: false, margin: { top: '10mm', left: 24 }, pageRanges: '1-3, 5' },
    });
    expect(result.ok).toBe(true);
    if (result.ok)
      expect(result.request.pdf).toEqual({
        paper: 'Letter',
        landscape: true,
        printBackground: false,
        margin: { top: '10mm', left: 24 },
        pageRanges: '1-3, 5',
      });
  });

  it.each([
    [{ format: 'pdf', quality: 80 }, /quality does not apply to format "pdf"/],
    [{ format: 'pdf', fullPage: true }, /fullPage does not apply to format "pdf"/],
    [{ format: 'pdf', selector: '#main' }, /selector does not apply to format "pdf"/],
    [{ format: 'png', pdf: { paper: 'A4' } }, /pdf applies to format "pdf" only/],
    [{ pdf: {} }, /pdf applies to format "pdf" only/],
    [{ format: 'pdf', pdf: { paper: 'B5' } }, /pdf.paper must be one of "A0", .*"Letter"/],
    [{ format: 'pdf', pdf: { paper: 'a4' } }, /pdf.paper must be one of/],
    [{ format: 'pdf', pdf: { landscape: 'yes' } }, /pdf.landscape must be true or false/],
    [{ format: 'pdf', pdf: { printBackground: 1 } }, /pdf.printBackground must be true or false/],
    [{ format: 'pdf', pdf: { margin: '1cm' } }, /pdf.margin must be an object/],
    [{ format: 'pdf', pdf: { margin: { top: '1 furlong' } } }, /pdf.margin.top must be a number of CSS pixels/],
    [{ format: 'pdf', pdf: { margin: { top: -1 } } }, /pdf.margin.top must be/],
    [{ format: 'pdf', pdf: { margin: { middle: 1 } } }, /unknown field\(s\) "middle" in pdf.margin/],
    [{ format: 'pdf', pdf: { pageRanges: 'first' } }, /pdf.pageRanges must list pages and ranges/],
    [{ format: 'pdf', pdf: { colour: true } }, /unknown field\(s\) "colour" in pdf/],
    [{ format: 'pdf', pdf: 'A4' }, /pdf must be an object/],
  ])('refuses %j naming the field', (body, message) => {
    const result = parse(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem.message).toMatch(message);
  });

  it('gives PDFs their own cache keys, settings with defaults filled', () => {
    const key = (o: Record<string, unknown>) => cacheKey('https://example.com/', screenshotOptionsSchema.parse(o));
    expect(key({ format: 'pdf' })).toBe(key({ format: 'pdf', pdf: { paper: 'A4', printBackground: true } }));
    expect(key({ format: 'pdf' })).not.toBe(key({ format: 'pdf', pdf: { paper: 'Letter' } }));
    expect(key({ format: 'pdf' })).not.toBe(key({ format: 'png' }));
  });
});
