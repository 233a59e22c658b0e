// lib/worker/settle.ts, the one place a failure class becomes an outcome: deadlines, the last receive,
// idempotency and "done wins". The store here is an in-memory ScreenshotStore (the S3-backed one
// is exercised end to end in faults.test.ts); render is a function the test controls.
import { describe, expect, it } from 'vitest';
import {
  FAILURES,
  PermanentFailure,
  TransientFailure,
  classifyFailure,
  type FailureCode,
  type PermanentCode,
  type TransientCode,
} from '../../lib/contract/failures.js';
import { encodeJob, newJob } from '../../lib/contract/job.js';
import { PAGE_FAILURE_ATTEMPTS, settleJob, WRITE_MARGIN_MS, type SettleDeps } from '../../lib/worker/settle.js';
import type { StatusRecord } from '../../lib/contract/status.js';
import type { ScreenshotStore } from '../../lib/storage/store.js';

class MemoryStore implements ScreenshotStore {
  status = new Map<string, StatusRecord>();
  images = new Map<string, Uint8Array>();
  async putImage(id: string, bytes: Uint8Array, _type: string, ext: string) {
    this.images.set(`images/${id}.${ext}`, bytes);
    return `images/${id}.${ext}`;
  }
  async putStatus(record: StatusRecord) {
    this.status.set(record.id, record);
  }
  async getStatus(id: string) {
    return this.status.get(id);
  }
  async putExtracts(id: string): Promise<string> {
    return `extracts/${id}.json`;
  }
  async presignImage(key: string) {
    return `memory://${key}`;
  }
}

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
const FACTS = { finalUrl: 'https://example.com/', httpStatus: 200, connections: [], browser: 'test', startedAt: '', capturedAt: '' };

function setup(render: SettleDeps['render'] = async () => ({ bytes: PNG, contentType: 'image/png', extension: 'png', facts: FACTS })) {
  const store = new MemoryStore();
  let renders = 0;
  const deps: SettleDeps = {
    store,
    render: async (input, job) => {
      renders++;
      return render(input, job);
    },
    renderTimeoutMs: 1500,
    maxReceiveCount: 3,
  };
  return { store, deps, renders: () => renders };
}

const job = () => newJob('https://example.com/', {});
const delivery = (body: string, receiveCount = 1, remainingMs = 60_000) => ({ body, receiveCount, remainingMs: () => remainingMs });

describe('settleJob', () => {
  it('deadline: with less than render timeout + write margin left, the record is not started and comes back (not_enough_time)', async () => {
    const { deps, store, renders } = setup();
    const j = job();
    const err = await settleJob(delivery(encodeJob(j), 1, 1500 + WRITE_MARGIN_MS - 1), deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientFailure);
    expect((err as TransientFailure).code).toBe('not_enough_time');
    expect(renders()).toBe(0);
    // Not started, but a client polling sees why it is still queued.
    expect(store.status.get(j.id)).toMatchObject({ status: 'queued', attempts: 1, lastError: { code: 'not_enough_time' } });
    // With just enough time it runs.
    expect(await settleJob(delivery(encodeJob(j), 2, 1500 + WRITE_MARGIN_MS), deps)).toMatchObject({ status: 'done' });
  });

  it('beforeDone (the cache index) runs once the image is stored and before the status says done; a failure there still settles done', async () => {
    const { deps, store } = setup();
    const j = job();
    const seen: string[] = [];
    deps.beforeDone = async (settled, outcome) => {
      seen.push(`before:${outcome.status}:${store.status.get(settled.id)?.status ?? 'none'}:${store.images.size}`);
      throw new Error('cache index unavailable');
    };
    deps.onSettled = async (settled) => {
      seen.push(`after:${store.status.get(settled.id)?.status}`);
    };
    expect(await settleJob(delivery(encodeJob(j)), deps)).toMatchObject({ status: 'done' });
    expect(seen).toEqual(['before:done:none:1', 'after:done']);
  });

  it('transient failure before the last receive: retried, status untouched; on the last receive: `failed` written and still retried (to the DLQ)', async () => {
    const { deps, store } = setup(async () => {
      throw new TransientFailure('browser_crashed', 'the browser went away');
    });
    const j = job();
    await store.putStatus({ id: j.id, status: 'queued', url: j.url, requestedAt: j.requestedAt, updatedAt: j.requestedAt });
    await expect(settleJob(delivery(encodeJob(j), 2), deps)).rejects.toMatchObject({ code: 'browser_crashed' });
    expect(store.status.get(j.id)!.status).toBe('queued');
    await expect(settleJob(delivery(encodeJob(j), 3), deps)).rejects.toMatchObject({ code: 'browser_crashed', lastTry: true });
    expect(store.status.get(j.id)).toMatchObject({ status: 'failed', error: { code: 'browser_crashed' } });
  });

  it.each(['render_timeout', 'page_crashed'] as const)(
    'page budget: the same %s on a second attempt fails the job for good (not retried, so never redriven); infrastructure failures keep every receive',
    async (code) => {
      const { deps, store, renders } = setup(async () => {
        throw new TransientFailure(code, 'the page again');
      });
      deps.maxReceiveCount = 5;
      const j = job();
      await expect(settleJob(delivery(encodeJob(j), 1), deps)).rejects.toMatchObject({ code });
      expect(store.status.get(j.id)).toMatchObject({ status: 'queued', attempts: 1, lastError: { code } });
      expect(await settleJob(delivery(encodeJob(j), 2), deps)).toEqual({ status: 'failed', id: j.id, code });
      expect(renders()).toBe(PAGE_FAILURE_ATTEMPTS);
      expect(store.status.get(j.id)).toMatchObject({ status: 'failed', error: { code, message: /the same on 2 attempts/ } });

      // A different page failure in between starts the count again; an infrastructure failure never counts.
      const other = job();
      let next: TransientCode = code;
      const { deps: d2 } = setup(async () => {
        throw new TransientFailure(next, 'varies');
      });
      d2.maxReceiveCount = 5;
      await expect(settleJob(delivery(encodeJob(other), 1), d2)).rejects.toMatchObject({ code });
      next = 'browser_crashed';
      await expect(settleJob(delivery(encodeJob(other), 2), d2)).rejects.toMatchObject({ code: 'browser_crashed' });
      next = code;
      await expect(settleJob(delivery(encodeJob(other), 3), d2)).rejects.toMatchObject({ code });
      expect(await settleJob(delivery(encodeJob(other), 4), d2)).toMatchObject({ status: 'failed', code });
    },
  );

  it('permanent failure: `failed` with { code, message }, not retried', async () => {
    const { deps, store } = setup(async () => {
      throw new PermanentFailure('dns_not_found', 'no such host');
    });
    const j = job();
    expect(await settleJob(delivery(encodeJob(j)), deps)).toEqual({ status: 'failed', id: j.id, code: 'dns_not_found' });
    expect(store.status.get(j.id)!.error).toEqual({ code: 'dns_not_found', message: 'no such host' });
  });

  it('a done job redelivered is not rendered again; a late last-receive failure never overwrites done', async () => {
    const { deps, store, renders } = setup();
    const j = job();
    expect(await settleJob(delivery(encodeJob(j)), deps)).toMatchObject({ status: 'done', id: j.id });
    expect(await settleJob(delivery(encodeJob(j), 2), deps)).toEqual({ status: 'already_done', id: j.id });
    expect(renders()).toBe(1);
    // A duplicate that was already rendering when another delivery finished (its `done` lands
    // meanwhile), and that fails on its last receive: `done` must survive.
    store.status.delete(j.id);
    const done = {
      id: j.id,
      status: 'done' as const,
      url: j.url,
      requestedAt: j.requestedAt,
      updatedAt: new Date().toISOString(),
      imageKey: `images/${j.id}.png`,
    };
    const slow = setup(async () => {
      await store.putStatus(done);
      throw new TransientFailure('browser_crashed', 'gone');
    });
    slow.deps.store = store;
    await expect(settleJob(delivery(encodeJob(j), 3), slow.deps)).rejects.toMatchObject({ code: 'browser_crashed' });
    expect(store.status.get(j.id)).toEqual(done);
  });

  it('undecodable body with a readable id -> failed invalid_job; without one -> failed, nothing written', async () => {
    const { deps, store } = setup();
    const j = job();
    expect(await settleJob(delivery(JSON.stringify({ ...j, v: 7 })), deps)).toMatchObject({
      status: 'failed',
      id: j.id,
      code: 'invalid_job',
    });
    expect(store.status.get(j.id)!.status).toBe('failed');
    expect(await settleJob(delivery('not json'), deps)).toEqual({ status: 'failed', id: undefined, code: 'invalid_job' });
    expect(store.status.size).toBe(1);
  });

  it('an S3 outage while settling is transient (aws_unavailable), whatever the receive count', async () => {
    const { deps, store } = setup();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED', $metadata: {} });
    store.getStatus = async () => {
      throw refused;
    };
    await expect(settleJob(delivery(encodeJob(job()), 3), deps)).rejects.toMatchObject({ code: 'aws_unavailable' });
    expect(
      classifyFailure(Object.assign(new Error('Service Unavailable'), { name: 'Unknown', $metadata: { httpStatusCode: 503 } })),
    ).toMatchObject({ kind: 'transient', code: 'aws_unavailable' });
    expect(classifyFailure(Object.assign(new Error('Too many'), { name: 'Unknown', $metadata: { httpStatusCode: 429 } }))).toMatchObject({
      kind: 'transient',
      code: 'aws_throttled',
    });
  });

  it('the failure table: exactly these codes are permanent and these transient, whichever class raises them', () => {
    // Pinned here, not read back from the table: moving a code to the other kind must fail this test.
    const permanent = [
      'compare_too_large',
      'compare_unavailable',
      'dns_not_found',
      'invalid_job',
      'invalid_options',
      'invalid_selector',
      'invalid_url',
      'page_navigating',
      'page_too_large',
      'quality_failed',
      'redrive_exhausted',
      'script_error',
      'selector_not_found',
      'selector_timeout',
      'url_refused',
    ];
    const transient = [
      'aws_throttled',
      'aws_unavailable',
      'browser_crashed',
      'browser_error',
      'compare_not_ready',
      'dns_unavailable',
      'internal_error',
      'not_enough_time',
      'page_crashed',
      'page_unreachable',
      'protocol_timeout',
      'receipt_key_unavailable',
      'render_timeout',
    ];
    const codes = Object.keys(FAILURES) as FailureCode[];
    expect(codes.filter((c) => FAILURES[c].kind === 'permanent').sort()).toEqual(permanent);
    expect(codes.filter((c) => FAILURES[c].kind === 'transient').sort()).toEqual(transient);
    // http_error alone takes the raising class's kind: failOnHttpError's 4xx is final, its 5xx retried.
    expect(codes.filter((c) => FAILURES[c].kind === 'raised')).toEqual(['http_error']);
    expect(classifyFailure(new PermanentFailure('http_error', 'x'))).toEqual({ kind: 'permanent', code: 'http_error', message: 'x' });
    expect(classifyFailure(new TransientFailure('http_error', 'x'))).toEqual({ kind: 'transient', code: 'http_error', message: 'x' });
    for (const code of codes.filter((c) => c !== 'http_error')) {
      const kind = permanent.includes(code) ? 'permanent' : 'transient';
      // The types refuse a code of the other kind (PermanentFailure('render_timeout') does not
      // compile); were one forced through, the table would still decide.
      expect(classifyFailure(new PermanentFailure(code as PermanentCode, 'x'))).toEqual({ kind, code, message: 'x' });
      expect(classifyFailure(new TransientFailure(code as TransientCode, 'x'))).toEqual({ kind, code, message: 'x' });
    }
    expect(classifyFailure(new Error('Protocol error (Runtime.callFunctionOn): Page crashed!'))).toMatchObject({
      kind: 'transient',
      code: 'browser_crashed',
    });
  });
});
