// The fault matrix on the local stack (emulator + worker in its own process + real Chromium),
// with short tuning: visibility 8 s, maxReceiveCount 4, render timeout 4 s, retries after 1 / 3 / 8 s, 1 redrive.
// The budgets hold on a loaded 2-core machine (two test files, each with its own Chromium): a job
// that must succeed gets a 4 s render deadline (its page answers in 300 ms; a relaunched browser
// needs ~1-2 s more under load) and one spare receive beyond what its fault costs; the visibility
// timeout stays above the render deadline so a slow render is never delivered twice at once.
// Every fault is real: the browser and the worker process are SIGKILLed, pages really hang or
// kill the browser, S3 is really unreachable (the worker's TCP link to it is cut). No mocks.
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJob, newJob, salvageJobId } from '../../lib/contract/job.js';
import { LOCAL_REGION } from '../../local/emulator.js';
import { hangingPage, html, servePages, type PageServer } from '../../fixtures/pages.js';
import { postScreenshot } from '../support/stack.js';
import {
  getStatus,
  killWorkerBrowser,
  metricSum,
  peekBodies,
  queueDepth,
  settleAll,
  startHarness,
  startLink,
  workerBrowserPid,
  type Harness,
  type Link,
} from './harness.js';
import { inGroup, stillThere, treeOf } from '../../fixtures/procs.js';
import { eventually } from '../support/eventually.js';

let pages: PageServer;
let h: Harness;
let link: Link;
let s3: S3Client;
let healed = false;
let apiUrl: string;

const slow: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => {
  setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(html('<h1>slow but fine</h1>')), 300);
};

beforeAll(async () => {
  const routes: Record<string, string | ((req: http.IncomingMessage, res: http.ServerResponse) => void)> = {
    '/ok': html('<h1>fine</h1>'),
    '/idem': html('<h1>rendered once</h1>'),
    // Hangs until the test "heals" it (for the redrive).
    '/hang': (req, res) =>
      healed ? res.writeHead(200, { 'content-type': 'text/html' }).end(html('<h1>back</h1>')) : hangingPage(req, res),
    // Hangs on its first request only.
    '/flaky': (req, res) =>
      pages.hits.get('/flaky') === 1
        ? hangingPage(req, res)
        : res.writeHead(200, { 'content-type': 'text/html' }).end(html('<h1>second time lucky</h1>')),
    // A poison page: every request to it kills the browser rendering it.
    '/crash': (req, res) => {
      killWorkerBrowser(h.stack);
      hangingPage(req, res);
    },
  };
  for (let i = 0; i < 6; i++) routes[`/slow-a${i}`] = slow;
  for (let i = 0; i < 6; i++) routes[`/slow-b${i}`] = slow;
  for (let i = 0; i < 3; i++) routes[`/s3-${i}`] = html(`<h1>written once S3 is back ${i}</h1>`);
  pages = await servePages(routes);
  link = await startLink();
  h = await startHarness({
    allow: [pages.hostPort],
    env: { ...TUNING, POWERTOOLS_LOG_LEVEL: 'INFO', URL2PNG_MAX_REDRIVES: '1' },
    // The worker reaches S3 through a link the test can cut; the API and the queue do not.
    workerEnv: { URL2PNG_AWS_ENDPOINT: `http://127.0.0.1:${link.port}` },
    // The emulator answers only its own Host (DNS rebinding) and the link's, which the worker signs.
    emulatorHosts: [`127.0.0.1:${link.port}`],
  });
  link.target.port = h.stack.emulator.port;
  apiUrl = h.stack.apiUrl;
  s3 = new S3Client({
    region: LOCAL_REGION,
    endpoint: h.stack.emulator.endpoint,
    forcePathStyle: true,
    credentials: h.stack.emulator.credentials,
  });
  // Wait for the worker's browser (cold start), so the first test measures faults, not start-up.
  await eventually(() => workerBrowserPid(h.stack), Boolean, 30_000);
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await h?.close();
  await link?.close();
  await pages?.close();
});

async function post(path: string): Promise<string> {
  const { res, json } = await postScreenshot(apiUrl, { url: `${pages.origin}${path}` });
  expect(res.status).toBe(202);
  return String(json.id);
}

const ids: Record<string, string> = {};

/** The tuning of this file (see the header): counts below follow MAX_RECEIVES. */
const TUNING = {
  URL2PNG_VISIBILITY_TIMEOUT_S: '8',
  URL2PNG_MAX_RECEIVE_COUNT: '4',
  URL2PNG_RENDER_TIMEOUT_MS: '4000',
  // Retries after 1, 3, 8 s (not 5, 8, 8): the poison's four receives, twice, are most of this file's time.
  URL2PNG_RETRY_BACKOFF_S: '1',
};
const MAX_RECEIVES = Number(TUNING.URL2PNG_MAX_RECEIVE_COUNT);
/** Long enough for MAX_RECEIVES deliveries that each wait out the render deadline and the backoff. */
const UNTIL_DLQ_MS = 120_000;

describe('fault matrix (visibility 8 s, maxReceiveCount 4, render timeout 4 s)', { timeout: 180_000 }, () => {
  it('browser SIGKILLed mid-batch -> the batch fails over to redelivery, every job done', async () => {
    const jobs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => post(`/slow-a${i}`)));
    await eventually(() => [...pages.hits.keys()].some((p) => p.startsWith('/slow-a')), Boolean, 20_000);
    expect(killWorkerBrowser(h.stack)).toBeGreaterThan(0);
    const settled = await settleAll(apiUrl, jobs, 90_000);
    expect([...settled.values()]).toEqual(jobs.map(() => expect.objectContaining({ status: 'done' })));
    expect(metricSum(h.output, 'JobsRetried', 'browser_crashed')).toBeGreaterThanOrEqual(1);
  });

  it('page hangs on its first request only -> render_timeout, retried, done on redelivery', async () => {
    const id = await post('/flaky');
    const [settled] = (await settleAll(apiUrl, [id], 60_000)).values();
    expect(settled!.status).toBe('done');
    expect(pages.hits.get('/flaky')).toBe(2);
    expect(metricSum(h.output, 'JobsRetried', 'render_timeout')).toBeGreaterThanOrEqual(1);
  });

  it('page always hangs -> failed (render_timeout) after its page budget of 2 renders (under maxReceiveCount), deleted: not in the DLQ', async () => {
    const id = await post('/hang');
    ids.hang = id;
    const [settled] = (await settleAll(apiUrl, [id], 40_000)).values();
    expect(settled).toMatchObject({ status: 'failed', error: { code: 'render_timeout', message: /the same on 2 attempts/ } });
    expect(pages.hits.get('/hang')).toBe(2);
    await sleep(Number(TUNING.URL2PNG_VISIBILITY_TIMEOUT_S) * 1000 + 1000); // past the visibility timeout: a message left behind would be back, or in the DLQ
    expect((await peekBodies(h.sqs, h.stack.emulator.dlqUrl)).some((b) => b.includes(id))).toBe(false);
    expect(await queueDepth(h.sqs, h.stack.emulator.queueUrl)).toBe(0);
    // What the redrive below finds: the same job in the DLQ, as if the service had failed it
    // maxReceiveCount times (the poison test below gets there for real).
    const job = newJob(`${pages.origin}/hang`, {}, new Date(settled!.requestedAt), id);
    await h.sqs.send(new SendMessageCommand({ QueueUrl: h.stack.emulator.dlqUrl, MessageBody: encodeJob(job) }));
  });

  it('redrive: moves a DLQ message back with its counter (page healed -> done) and drops a done duplicate', async () => {
    healed = true;
    // A duplicate of a done job also sits in the DLQ: it is dropped, not re-run.
    const dup = newJob(`${pages.origin}/ok`, {});
    await h.sqs.send(new SendMessageCommand({ QueueUrl: h.stack.emulator.queueUrl, MessageBody: encodeJob(dup) }));
    expect((await settleAll(apiUrl, [dup.id], 60_000)).get(dup.id)!.status).toBe('done');
    await h.sqs.send(new SendMessageCommand({ QueueUrl: h.stack.emulator.dlqUrl, MessageBody: encodeJob(dup) }));
    const hits = pages.hits.get('/ok');

    // What the DLQ holds now, job by job: ours (the hung job, the duplicate) and whatever earlier
    // tests left there. The report is checked against that, so leftovers neither fail nor pad it.
    const inDlq = await eventually(
      async () => (await peekBodies(h.sqs, h.stack.emulator.dlqUrl)).map((b) => salvageJobId(b) ?? b),
      (found) => found.includes(dup.id) && found.includes(ids.hang!),
      10_000,
    );
    const done = await Promise.all(inDlq.map(async (id) => (await getStatus(apiUrl, id)).status === 'done'));
    const report = await h.stack.redrive();
    expect(report).toEqual({
      moved: done.filter((d) => !d).length,
      alreadyDone: done.filter(Boolean).length,
      exhausted: 0,
      undecodable: 0,
      remaining: 0,
    });
    expect((await getStatus(apiUrl, ids.hang!)).status).not.toBe('failed'); // queued again
    const settled = await settleAll(apiUrl, [ids.hang!], 60_000);
    expect(settled.get(ids.hang!)!.status).toBe('done');
    expect(pages.hits.get('/hang')).toBe(3);
    expect(pages.hits.get('/ok')).toBe(hits);
  });

  it('S3 unreachable from the worker for a while (link cut, not mocked) -> jobs done once it is back', async () => {
    await link.cut();
    const jobs = await Promise.all([0, 1, 2].map((i) => post(`/s3-${i}`)));
    // Long enough for at least one failed delivery, short enough to stay under maxReceiveCount.
    await eventually(
      () => metricSum(h.output, 'JobsRetried', 'aws_unavailable'),
      (n) => n >= 1,
      30_000,
    );
    await link.restore();
    const settled = await settleAll(apiUrl, jobs, 90_000);
    expect([...settled.values()].map((s) => s.status)).toEqual(['done', 'done', 'done']);
    expect(metricSum(h.output, 'JobsRetried', 'aws_unavailable')).toBeGreaterThanOrEqual(1);
  });

  it('worker process SIGKILLed mid-batch -> its messages come back after the visibility timeout (8 s), all done', async () => {
    const startsBefore = h.stack.worker.starts;
    const jobs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => post(`/slow-b${i}`)));
    await eventually(() => [...pages.hits.keys()].some((p) => p.startsWith('/slow-b')), Boolean, 20_000);
    const deadBrowser = workerBrowserPid(h.stack);
    expect(deadBrowser).toBeGreaterThan(1);
    // Everything the worker started (its browser, the browser's helpers and renderers), by pid and start time.
    const started = treeOf(h.stack.worker.pid!).filter((p) => p.pid !== h.stack.worker.pid);
    expect(started.filter((p) => /chrom/i.test(p.cmdline) && p.cmdline.includes('--type=renderer')).length).toBeGreaterThanOrEqual(1);
    const killedAt = Date.now();
    h.stack.worker.kill('SIGKILL');
    const settled = await settleAll(apiUrl, jobs, 90_000);
    expect([...settled.values()]).toEqual(jobs.map(() => expect.objectContaining({ status: 'done' })));
    // A new worker process (a cold start) did the work, and not before the messages reappeared.
    expect(h.stack.worker.starts).toBe(startsBefore + 1);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(2500);
    // The dead worker's browser did not outlive it: none of the exact processes it started is left,
    // and nothing is in the browser's process group (whoever adopted them: not "ppid 1", which a
    // subreaper breaks).
    expect(stillThere(started)).toEqual([]);
    expect(inGroup(deadBrowser!)).toEqual([]);
  });

  it('an invocation right after the worker process was killed goes to a new process, not to the dead one (no EPIPE)', async () => {
    // The kill is sent at once but the exit is reported later: an invocation in between once went
    // down the dead process's pipe (EPIPE, an uncaught error). Lambda gives it a new environment.
    const startsBefore = h.stack.worker.starts;
    const pidBefore = h.stack.worker.pid;
    h.stack.worker.kill('SIGKILL');
    await expect(h.stack.worker.invoke({ Records: [] })).resolves.toEqual({ batchItemFailures: [] });
    expect(h.stack.worker.starts).toBe(startsBefore + 1);
    expect(h.stack.worker.pid).not.toBe(pidBefore);
  });

  it('poison message (its page kills the browser every time) -> failed (browser_crashed), in the DLQ; the next job still renders', async () => {
    const id = await post('/crash');
    ids.poison = id;
    const [settled] = (await settleAll(apiUrl, [id], UNTIL_DLQ_MS)).values();
    expect(settled).toMatchObject({ status: 'failed', error: { code: 'browser_crashed' } });
    // maxReceiveCount receives, each ending browser_crashed. The last one may not reach the page:
    // with retries seconds apart it can start while the killed browser is still being replaced,
    // and then fails opening its page (browser_crashed too).
    expect(pages.hits.get('/crash')).toBeGreaterThanOrEqual(MAX_RECEIVES - 1);
    expect(pages.hits.get('/crash')).toBeLessThanOrEqual(MAX_RECEIVES);
    expect(
      await eventually(
        () => peekBodies(h.sqs, h.stack.emulator.dlqUrl),
        (b) => b.some((x) => x.includes(id)),
        10_000,
      ),
    ).toEqual(expect.arrayContaining([expect.stringContaining(id)]));
    const after = await post('/ok');
    expect((await settleAll(apiUrl, [after], 60_000)).get(after)!.status).toBe('done');
  });

  it('redrive respects its bound: the poison is moved back once, fails again, then is failed for good (redrive_exhausted)', async () => {
    const first = await h.stack.redrive();
    expect(first).toMatchObject({ exhausted: 0, remaining: 0 });
    expect(first.moved).toBeGreaterThanOrEqual(1);
    // MAX_RECEIVES more receives, each killing the browser (the last may not reach the page, as above),
    // and back to the DLQ with its counter at 1.
    const hitsBefore = pages.hits.get('/crash')!;
    await eventually(
      () => pages.hits.get('/crash')!,
      (n) => n >= hitsBefore + MAX_RECEIVES - 1,
      UNTIL_DLQ_MS,
    );
    await eventually(
      () => peekBodies(h.sqs, h.stack.emulator.dlqUrl),
      (b) => b.some((x) => x.includes(ids.poison!)),
      30_000,
    );
    expect(await getStatus(apiUrl, ids.poison!)).toMatchObject({ status: 'failed', error: { code: 'browser_crashed' } });

    // Its counter (1) is at the bound (URL2PNG_MAX_REDRIVES=1): failed for good, not moved again.
    const second = await h.stack.redrive();
    expect(second).toMatchObject({ moved: 0, exhausted: 1, remaining: 0 });
    const final = await getStatus(apiUrl, ids.poison!);
    expect(final).toMatchObject({ status: 'failed', error: { code: 'redrive_exhausted' } });
    expect(final.error!.message).toMatch(/after 1 redrive/);
    await new Promise((r) => setTimeout(r, 1000));
    const hitsAfter = pages.hits.get('/crash')!;
    await new Promise((r) => setTimeout(r, 1000));
    expect(pages.hits.get('/crash')).toBe(hitsAfter); // not rendered again
    expect(await queueDepth(h.sqs, h.stack.emulator.dlqUrl)).toBe(0);
  });

  it('undecodable message with a readable id -> failed (invalid_job) at once: permanent, not retried, not in the DLQ', async () => {
    const job = newJob(`${pages.origin}/ok`, {});
    const body = JSON.stringify({ ...JSON.parse(encodeJob(job)), v: 99 });
    await h.sqs.send(new SendMessageCommand({ QueueUrl: h.stack.emulator.queueUrl, MessageBody: body }));
    const [settled] = (await settleAll(apiUrl, [job.id], 60_000)).values();
    expect(settled).toMatchObject({ status: 'failed', error: { code: 'invalid_job' } });
    await eventually(
      () => queueDepth(h.sqs, h.stack.emulator.queueUrl),
      (n) => n === 0,
      10_000,
    );
    expect((await peekBodies(h.sqs, h.stack.emulator.dlqUrl)).some((b) => b.includes(job.id))).toBe(false);
  });

  it('idempotency: a job delivered twice writes the same keys once; a done job redelivered is not rendered again', async () => {
    const job = newJob(`${pages.origin}/idem`, {});
    ids.idem = job.id;
    const send = () => h.sqs.send(new SendMessageCommand({ QueueUrl: h.stack.emulator.queueUrl, MessageBody: encodeJob(job) }));
    await Promise.all([send(), send()]);
    const [settled] = (await settleAll(apiUrl, [job.id], 60_000)).values();
    expect(settled!.status).toBe('done');
    await eventually(
      () => queueDepth(h.sqs, h.stack.emulator.queueUrl),
      (n) => n === 0,
      10_000,
    );
    const hitsAfterTwo = pages.hits.get('/idem')!;
    expect(hitsAfterTwo).toBeGreaterThanOrEqual(1);
    expect(hitsAfterTwo).toBeLessThanOrEqual(2); // both may have rendered at once; never more
    const keys = async () =>
      (await s3.send(new ListObjectsV2Command({ Bucket: h.stack.emulator.bucket, Prefix: `images/${job.id}` }))).Contents?.map(
        (o) => o.Key,
      );
    expect(await keys()).toEqual([`images/${job.id}.png`]);
    const alreadyBefore = metricSum(h.output, 'JobsAlreadyDone');
    await send(); // a third delivery, after done
    await eventually(
      () => metricSum(h.output, 'JobsAlreadyDone'),
      (n) => n > alreadyBefore,
      15_000,
    );
    expect(pages.hits.get('/idem')).toBe(hitsAfterTwo);
    expect(await keys()).toEqual([`images/${job.id}.png`]);
    expect((await getStatus(apiUrl, job.id)).status).toBe('done');
  });

  it('CloudWatch: EMF metrics for rendered/failed-by-code/durations, and a jobId on every worker log line', async () => {
    const rendered = metricSum(h.output, 'JobsRendered');
    expect(rendered).toBeGreaterThanOrEqual(6 + 1 + 3 + 6 + 1 + 1 + 1);
    const durations = h.output.filter((l) => l.includes('"RenderDuration"'));
    expect(durations.length).toBeGreaterThan(0);
    expect(metricSum(h.output, 'JobsFailed', 'render_timeout')).toBeGreaterThanOrEqual(1);
    expect(metricSum(h.output, 'JobsFailed', 'browser_crashed')).toBeGreaterThanOrEqual(2);
    expect(metricSum(h.output, 'JobsFailed', 'invalid_job')).toBe(1);
    expect(metricSum(h.output, 'RequestToDone')).toBeGreaterThan(0);
    const logs = h.output.filter((l) => l.startsWith('{') && !l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.length).toBeGreaterThan(20);
    const withoutJob = logs.filter((l) => l.jobId === undefined && l.jobIds === undefined);
    expect(withoutJob).toEqual([]);
    expect(logs.filter((l) => l.message === 'job settled').every((l) => typeof l.jobId === 'string' && l.level === 'INFO')).toBe(true);
  });
});
