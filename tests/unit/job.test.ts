import { describe, expect, it } from 'vitest';
import { PermanentFailure } from '../../lib/contract/failures.js';
import { decodeJob, encodeJob, imageKey, isJobId, newJob, salvageJobId, statusKey } from '../../lib/contract/job.js';

const options = { width: 1280, height: 800, fullPage: false };

describe('job codec', () => {
  it('round-trips a job', () => {
    const job = newJob('https://example.com/', options, new Date('2026-01-02T03:04:05.000Z'));
    expect(decodeJob(encodeJob(job))).toEqual(job);
    expect(job.v).toBe(1);
    expect(isJobId(job.id)).toBe(true);
    expect(job.requestedAt).toBe('2026-01-02T03:04:05.000Z');
  });

  it('gives every job its own id', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newJob('https://example.com/', options).id));
    expect(ids.size).toBe(100);
  });

  it.each([
    ['not json', /not JSON/],
    ['{}', /not a v1 job/],
    ['{"v":2,"id":"x"}', /not a v1 job/],
    [JSON.stringify({ v: 1, id: 'nope', url: 'https://e.com/', options, requestedAt: '2026-01-01T00:00:00.000Z' }), /id/],
    [
      JSON.stringify({ v: 1, id: '6f1c2d3e-4b5a-4c6d-8e7f-901234567890', url: 42, options, requestedAt: '2026-01-01T00:00:00.000Z' }),
      /url/,
    ],
  ])('treats an undecodable body as permanent: %s', (body, message) => {
    expect(() => decodeJob(body)).toThrow(PermanentFailure);
    expect(() => decodeJob(body)).toThrow(message);
  });

  it("reads the chapter's message {id, url} (no version) as a job with default options", () => {
    const sentAt = new Date('2026-01-02T03:04:05.000Z');
    const id = '6f1c2d3e-4b5a-4c6d-8e7f-901234567890';
    expect(decodeJob(JSON.stringify({ id, url: 'https://example.com/' }), sentAt)).toEqual({
      v: 1,
      id,
      url: 'https://example.com/',
      options: newJob('https://example.com/', {}).options,
      requestedAt: '2026-01-02T03:04:05.000Z',
    });
    // Any UUID version; an upper-case id is the same id.
    expect(decodeJob(JSON.stringify({ id: 'C232AB00-9414-11EC-B3C8-9E6BDECED846', url: 'https://example.com/' })).id).toBe(
      'c232ab00-9414-11ec-b3c8-9e6bdeced846',
    );
    expect(salvageJobId('{"id":"C232AB00-9414-11EC-B3C8-9E6BDECED846"}')).toBe('c232ab00-9414-11ec-b3c8-9e6bdeced846');
  });

  it.each([
    [{ id: 'nope', url: 'https://e.com/' }, /id must be a UUID/],
    [{ id: '6f1c2d3e-4b5a-4c6d-8e7f-901234567890' }, /url/],
    [{ id: '6f1c2d3e-4b5a-4c6d-8e7f-901234567890', url: 'not a url' }, /url/],
    [{ id: '6f1c2d3e-4b5a-4c6d-8e7f-901234567890', url: 'https://e.com/', width: 10 }, /width/],
  ])('a broken chapter message is permanent and says what is wrong: %j', (body, message) => {
    expect(() => decodeJob(JSON.stringify(body))).toThrow(PermanentFailure);
    expect(() => decodeJob(JSON.stringify(body))).toThrow(message);
  });

  it('salvages the id of a broken job so its failure can be recorded', () => {
    expect(salvageJobId('{"id":"6f1c2d3e-4b5a-4c6d-8e7f-901234567890","url":42}')).toBe('6f1c2d3e-4b5a-4c6d-8e7f-901234567890');
    expect(salvageJobId('{"id":"../../etc"}')).toBeUndefined();
    expect(salvageJobId('garbage')).toBeUndefined();
  });

  it('derives keys from the id', () => {
    expect(imageKey('abc')).toBe('images/abc.png');
    expect(imageKey('abc', 'webp')).toBe('images/abc.webp');
    expect(statusKey('abc')).toBe('status/abc.json');
  });
});
