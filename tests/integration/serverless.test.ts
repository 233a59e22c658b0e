// The real serverless CLI (osls): the packaged CloudFormation template carries the tuning, and
// `invoke local --stage local` runs the sample events against a running local stack.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TUNING } from '../../lib/contract/tuning.js';
import type { LocalStack } from '../../local/stack.js';
import { copyService, invokeLocal, packageService, resourcesOfType, type PackagedService } from '../../fixtures/serverless.js';
import { startTestStack } from '../support/stack.js';
import { readZip } from '../options/zip.js';
import { eventually } from '../support/eventually.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { decodePng, near } from '../support/images.js';
import type { ScreenshotStatus } from '../../lib/contract/status.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('serverless package --stage prod', () => {
  let pkg: PackagedService;
  beforeAll(async () => {
    pkg = await packageService('prod');
  }, 240_000);

  it('maps the jobs queue to the worker with the tuned batch settings and partial batch responses', () => {
    const mappings = resourcesOfType(pkg.template, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]![1];
    expect(mapping.Properties).toMatchObject({
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: TUNING.maximumBatchingWindowSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: TUNING.maximumConcurrency },
    });
    expect(mapping.Properties.EventSourceArn).toEqual({ 'Fn::GetAtt': ['JobsQueue', 'Arn'] });
  });

  it('keeps the visibility timeout >= 6 x the worker timeout + batching window, and a DLQ after >= 5 receives', () => {
    const r = pkg.template.Resources;
    const worker = r.WorkerLambdaFunction.Properties;
    const queue = r.JobsQueue.Properties;
    expect(worker.Runtime).toBe('nodejs22.x');
    expect(worker.Timeout).toBe(TUNING.workerTimeoutSeconds);
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * worker.Timeout + TUNING.maximumBatchingWindowSeconds);
    expect(queue.RedrivePolicy.maxReceiveCount).toBeGreaterThanOrEqual(5);
    expect(queue.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': ['JobsDeadLetterQueue', 'Arn'] });
    expect(r.JobsDeadLetterQueue.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });

  it('exposes POST /screenshots and GET /screenshots/{id} on a REST API', () => {
    const methods = resourcesOfType(pkg.template, 'AWS::ApiGateway::Method').map(([, m]) => m.Properties.HttpMethod);
    expect(methods).toEqual(expect.arrayContaining(['POST', 'GET']));
    expect(pkg.template.Resources.ApiGatewayResourceScreenshotsIdVar.Properties.PathPart).toBe('{id}');
  });

  it('has the images bucket, and wires the functions to it and the queue', () => {
    expect(pkg.template.Resources.ImagesBucket.Type).toBe('AWS::S3::Bucket');
    for (const fn of ['ApiLambdaFunction', 'WorkerLambdaFunction']) {
      const vars = pkg.template.Resources[fn].Properties.Environment.Variables;
      expect(vars.URL2PNG_BUCKET).toEqual({ Ref: 'ImagesBucket' });
      expect(vars.URL2PNG_QUEUE_URL).toEqual({ Ref: 'JobsQueue' });
      expect(vars.URL2PNG_AWS_ENDPOINT).toBe('');
    }
  });

  it('packages each function on its own: the API bundle carries no browser', () => {
    expect(Object.keys(pkg.artifacts).sort()).toEqual(expect.arrayContaining(['api.zip', 'worker.zip']));
    expect(pkg.artifacts['api.zip']).toBeLessThan(5 * 1024 * 1024);
    expect(pkg.artifacts['worker.zip']).toBeGreaterThan(50 * 1024 * 1024); // Chromium is in here
  });

  it('ships the web page with the API: its bundle, unzipped as Lambda does, serves GET / as one document whose CSP hashes match', () => {
    const entries = readZip(join(pkg.dir, '.serverless', 'api.zip'));
    const names = entries.map((e) => e.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'handlers/api.js',
        'handlers/http/page/index.html',
        'handlers/http/page/page.css',
        'handlers/http/page/page.js',
      ]),
    );
    const root = join(pkg.dir, 'api-unzipped');
    for (const entry of entries.filter((e) => !e.name.endsWith('/'))) {
      mkdirSync(dirname(join(root, entry.name)), { recursive: true });
      writeFileSync(join(root, entry.name), entry.read());
    }
    const script = `
      const { handler } = await import(${JSON.stringify(join(root, 'handlers', 'api.js'))});
      const event = { httpMethod: 'GET', path: '/', resource: '/', headers: { Host: 'abc.execute-api.us-east-1.amazonaws.com' },
        requestContext: { path: '/prod/', domainName: 'abc.execute-api.us-east-1.amazonaws.com' }, body: null, isBase64Encoded: false };
      const res = await handler(event, { functionName: 'api', awsRequestId: 'test', getRemainingTimeInMillis: () => 10000 });
      console.log(JSON.stringify(res));`;
    const res = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
      }),
    );
    expect(res.statusCode).toBe(200);
    const body: string = res.body;
    expect(body).toContain('data-api="/prod"');
    const inline = (tag: string) => new RegExp(`<${tag}[^>]*>([\\s\\S]*?)</${tag}>`).exec(body)?.[1] ?? '';
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const csp: string = res.headers['content-security-policy'];
    expect(csp).toContain(`script-src ${hash(inline('script'))};`);
    expect(csp).toContain(`style-src ${hash(inline('style'))};`);
    expect(inline('script')).toContain("form.addEventListener('submit'");
    expect(body).not.toMatch(/<link|<script[^>]+src=/);
  });
});

describe('serverless invoke local --stage local against the running stack', () => {
  let stack: LocalStack;
  let pages: PageServer;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    pages = await servePages({ '/': html('<div style="width:100vw;height:100vh;background:#0a6"></div>') });
    stack = await startTestStack({ allow: [pages.hostPort] });
    dir = copyService();
    env = { URL2PNG_EMULATOR_PORT: String(stack.emulator.port), URL2PNG_EGRESS_ALLOW: pages.hostPort };
  });
  afterAll(async () => {
    await stack?.stop();
    await pages?.close();
  });

  it('api + events/api-post.json answers 202 and queues a real job the stack settles: done, with the image', async () => {
    // The sample event as shipped, aimed at a page on 127.0.0.1 (tests never need the internet).
    const event = JSON.parse(readFileSync(join(ROOT, 'events/api-post.json'), 'utf8'));
    event.body = JSON.stringify({ ...JSON.parse(event.body), url: `${pages.origin}/` });
    const eventFile = join(dir, 'api-post-local.json');
    writeFileSync(eventFile, JSON.stringify(event));
    const result = await invokeLocal(dir, 'api', eventFile, env);
    expect(result.statusCode).toBe(202);
    const { id } = JSON.parse(result.body);
    const status = await eventually(
      async () => (await (await fetch(`${stack.apiUrl}/screenshots/${id}`)).json()) as ScreenshotStatus,
      (s) => s.status !== 'queued',
      30_000,
    );
    expect(status).toMatchObject({ id, status: 'done' });
    const image = new Uint8Array(await (await fetch(status.imageUrl!)).arrayBuffer());
    const png = decodePng(image);
    expect([png.width, png.height]).toEqual([1280, 800]);
    expect(near(png.at(640, 400), [0x00, 0xaa, 0x66])).toBe(true);
    expect(pages.hits.get('/')).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('api + events/api-post-invalid.json answers a 400 JSON error', async () => {
    const result = await invokeLocal(dir, 'api', 'events/api-post-invalid.json', env);
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).error.code).toMatch(/invalid_request|url_refused/);
  }, 120_000);

  it('api + events/api-get.json answers 404 for an id the stack never saw', async () => {
    const result = await invokeLocal(dir, 'api', 'events/api-get.json', env);
    expect(result.statusCode).toBe(404);
  }, 120_000);

  it('worker + events/worker-batch.json returns batchItemFailures (unresolvable hosts are permanent)', async () => {
    const result = await invokeLocal(dir, 'worker', 'events/worker-batch.json', env);
    expect(result).toEqual({ batchItemFailures: [] });
    const status = await (await fetch(`${stack.apiUrl}/screenshots/9b2f6c1e-1a2b-4c3d-8e4f-000000000001`)).json();
    expect(status).toMatchObject({ status: 'failed', error: { code: 'dns_not_found' } });
  }, 120_000);

  it('worker + events/worker-poison.json records failed and does not retry', async () => {
    const result = await invokeLocal(dir, 'worker', 'events/worker-poison.json', env);
    expect(result).toEqual({ batchItemFailures: [] });
    const status = await (await fetch(`${stack.apiUrl}/screenshots/9b2f6c1e-1a2b-4c3d-8e4f-0000000000ff`)).json();
    expect(status).toMatchObject({ status: 'failed', error: { code: 'invalid_job' } });
  }, 120_000);
});
