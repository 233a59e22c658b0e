// The field table in docs/api.md is what `npm run docs:fields` generates from the request schema:
// a field added, removed or re-described without regenerating fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REQUEST_FIELDS } from '../../lib/contract/request.js';
import { API_DOC, FIELDS_END, FIELDS_START, fieldTable, withFieldTable } from '../../scripts/docs-fields.js';

describe('docs/api.md field table', () => {
  const doc = readFileSync(API_DOC, 'utf8');

  it('is the table generated from the schema (run `npm run docs:fields` after changing a field)', () => {
    expect(doc).toContain(FIELDS_START);
    expect(doc).toContain(FIELDS_END);
    expect(doc).toBe(withFieldTable(doc, fieldTable()));
  });

  it('has one row per request field, with its description', () => {
    const rows = fieldTable()
      .split('\n')
      .slice(2)
      .map((r) => /^\| `([^`]+)` \|/.exec(r)?.[1]);
    expect(rows).toEqual([...REQUEST_FIELDS]);
    expect(fieldTable()).toContain('| `width` | integer | `1280` | 320 to 3840 | Viewport width in CSS pixels |');
  });
});

describe('README.md', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  it('is a short first page (at most 20 KB) with the two commands', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(20 * 1024);
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
  });
});
