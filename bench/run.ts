// `npm run bench`: how close the pipeline comes to the browser's own speed, measured in one run on
// pages served on 127.0.0.1 with the same Chromium binary. A benchmark, not a test: it asserts
// nothing. `--json` prints the same figures as JSON.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { resolveExecutable } from '../lib/browser.js';
import { encodeJob, newJob } from '../lib/job.js';
import { startLocalStack } from '../local/stack.js';
import { servePages } from '../tests/support/pages.js';
import { BENCH_PAGE, launchBenchBrowser, renderIsolated } from './page.js';
import { packageService } from '../tests/support/serverless.js';
import { sampleMemory } from './proc-memory.js';

const args = new Set(process.argv.slice(2));
/** The sample event and the unzipped bundles (~130 MB each): gone when the bench ends. */
const scratch = mkdtempSync(join(tmpdir(), 'url2png-bench-'));
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
const asJson = args.has('--json');
const N = Number(process.env.BENCH_JOBS ?? 100);
const log = (line: string) => {
  if (!asJson) process.stderr.write(`${line}\n`);
};



const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
type ColdStart = { importMs: number; firstInvocationMs: number; totalMs: number } | { error: string };

interface BenchResult {
  machine: { cores: number };
  floor: { screenshotsPerSecond: Record<string, number>; best: number; warmRenderMsP50: number };
  chapterModel: { screenshotsPerSecond: number };
  pipeline: {
    jobs: number;
    outcomes: Record<string, number>;
    burstSeconds: number;
    screenshotsPerSecond: number;
    singleJobLatencyMs: { p50: number; p95: number };
    overheadOverWarmRenderMsP50: number;
    peakMemoryMb: { workerAndBrowser: number; browser: number };
  };
  ratios: { pipelineOverFloor: number; pipelineOverChapter: number; floorOverChapter: number };
  bundles: { apiZipKb: number; workerZipKb: number };
  coldStart: { api: ColdStart; worker: ColdStart };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Raw floor: one warm browser, `concurrency` jobs at once, no queue, no storage, no proxy. */
async function floor(executablePath: string, url: string, concurrency: number, jobs: number) {
  const browser = await launchBenchBrowser(executablePath);
  for (let i = 0; i < 3; i++) await renderIsolated(browser, url);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < jobs) await renderIsolated(browser, url);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await browser.close();
  return jobs / seconds;
}

/** One warm render at a time: the latency floor of a single job. */
async function warmRenderMs(executablePath: string, url: string, jobs = 20) {
  const browser = await launchBenchBrowser(executablePath);
  for (let i = 0; i < 3; i++) await renderIsolated(browser, url);
  const times: number[] = [];
  for (let i = 0; i < jobs; i++) {
    const t = performance.now();
    await renderIsolated(browser, url);
    times.push(performance.now() - t);
  }
  await browser.close();
  return pct(times, 50);
}

/** The chapter's model: launch, render, close, one job at a time. */
async function chapterModel(executablePath: string, url: string, jobs = 12) {
  const started = performance.now();
  for (let i = 0; i < jobs; i++) {
    const browser = await launchBenchBrowser(executablePath);
    await renderIsolated(browser, url);
    await browser.close();
  }
  return jobs / ((performance.now() - started) / 1000);
}

async function post(apiUrl: string, url: string): Promise<string> {
  const res = await fetch(`${apiUrl}/screenshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url }) });
  if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { statusUrl: string }).statusUrl;
}

async function status(statusUrl: string) {
  return (await (await fetch(statusUrl)).json()) as { status: string; updatedAt: string };
}

async function main() {
  const executablePath = await resolveExecutable(process.env.CHROMIUM_PATH || undefined);
  const pages = await servePages({ '/page': BENCH_PAGE });
  const url = `${pages.origin}/page`;

  log('floor: warm browser, 2/3/4 pages at once...');
  const floors: Record<string, number> = {};
  for (const c of [2, 3, 4]) floors[c] = await floor(executablePath, url, c, 60);
  const floorBest = Math.max(...Object.values(floors));
  const warmMs = await warmRenderMs(executablePath, url);
  log('chapter model: launch, render, close...');
  const chapter = await chapterModel(executablePath, url);

  log(`pipeline: local stack, ${N} jobs at once...`);
  process.env.URL2PNG_EGRESS_ALLOW = pages.hostPort;
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const stack = await startLocalStack({ port: 0, emulatorPort: 0 });
  for (const u of await Promise.all(Array.from({ length: 6 }, () => post(stack.apiUrl, url)))) {
    while ((await status(u)).status === 'queued') await new Promise((r) => setTimeout(r, 20));
  }
  const memory = sampleMemory();
  const t0 = Date.now();
  const statusUrls = await Promise.all(Array.from({ length: N }, () => post(stack.apiUrl, url)));
  // Completion times come from the status records, so the client need not watch closely: it
  // walks the jobs in the order they were sent and only re-checks the first unsettled one, which
  // keeps its load (API + emulator, on the same cores here) off the pipeline being measured.
  const settledAt: number[] = [];
  const outcomes: Record<string, number> = {};
  for (const u of statusUrls) {
    for (;;) {
      const s = await status(u);
      if (s.status !== 'queued') {
        settledAt.push(Date.parse(s.updatedAt));
        outcomes[s.status] = (outcomes[s.status] ?? 0) + 1;
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const burstSeconds = (Math.max(...settledAt) - t0) / 1000;
  const throughput = N / burstSeconds;
  const peak = memory.stop();

  log('pipeline: single jobs at low load...');
  const latencies: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = Date.now();
    const u = await post(stack.apiUrl, url);
    for (;;) {
      const s = await status(u);
      if (s.status !== 'queued') {
        latencies.push(Date.now() - t);
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  log('packaging (serverless package) for bundle sizes and cold starts...');
  const pkg = await packageService('prod');
  const cold = {
    api: await coldStart(pkg.dir, 'api', apiGetEvent(), stack.emulator),
    worker: await coldStart(pkg.dir, 'worker', workerEvent(url), stack.emulator, pages.hostPort),
  };
  await stack.stop();
  await pages.close();

  const result: BenchResult = {
    machine: { cores: (await import('node:os')).cpus().length },
    floor: { screenshotsPerSecond: Object.fromEntries(Object.entries(floors).map(([k, v]) => [k, round(v)])), best: round(floorBest), warmRenderMsP50: round(warmMs) },
    chapterModel: { screenshotsPerSecond: round(chapter, 2) },
    pipeline: {
      jobs: N,
      outcomes,
      burstSeconds: round(burstSeconds, 2),
      screenshotsPerSecond: round(throughput),
      singleJobLatencyMs: { p50: pct(latencies, 50), p95: pct(latencies, 95) },
      overheadOverWarmRenderMsP50: round(pct(latencies, 50) - warmMs),
      peakMemoryMb: { workerAndBrowser: Math.round(peak.totalMb), browser: Math.round(peak.browserMb) },
    },
    ratios: { pipelineOverFloor: round(throughput / floorBest, 2), pipelineOverChapter: round(throughput / chapter, 2), floorOverChapter: round(floorBest / chapter, 2) },
    bundles: { apiZipKb: Math.round(pkg.artifacts['api.zip']! / 1024), workerZipKb: Math.round(pkg.artifacts['worker.zip']! / 1024) },
    coldStart: cold,
  };
  if (asJson) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    printTable(result);
  }
}

function apiGetEvent() {
  return resolve('events/api-get.json');
}

function workerEvent(url: string): string {
  const job = newJob(url, { width: 1280, height: 800, fullPage: false } as Parameters<typeof newJob>[1]);
  const file = join(scratch, 'worker-event.json');
  const record = { messageId: 'bench-1', receiptHandle: 'r', body: encodeJob(job), attributes: { ApproximateReceiveCount: '1' }, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q', awsRegion: 'us-east-1' };
  writeFileSync(file, JSON.stringify({ Records: [record] }));
  return file;
}

/**
 * A fresh Node process loads the packaged bundle (unzipped, as Lambda does) and runs one event.
 * Asynchronous on purpose: the emulator it talks to lives in this process.
 */
async function coldStart(dir: string, fn: string, eventFile: string, emulator: { endpoint: string; queueUrl: string; bucket: string }, allow = ''): Promise<ColdStart> {
  const root = join(scratch, `cold-${fn}`);
  mkdirSync(root);
  execFileSync('unzip', ['-q', join(dir, '.serverless', `${fn}.zip`), '-d', root]);
  const script = `
    const t0 = performance.now();
    const mod = await import(${JSON.stringify(join(root, 'handlers', `${fn}.js`))});
    const t1 = performance.now();
    const event = JSON.parse(await (await import('node:fs/promises')).readFile(${JSON.stringify(eventFile)}, 'utf8'));
    const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 60000 };
    const out = await mod.handler(event, context);
    const t2 = performance.now();
    console.log(JSON.stringify({ importMs: t1 - t0, firstInvocationMs: t2 - t1, result: out.statusCode ?? out.batchItemFailures?.length }));
    process.exit(0);`;
  const run = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      CHROMIUM_PATH: '',
      URL2PNG_AWS_ENDPOINT: emulator.endpoint,
      URL2PNG_QUEUE_URL: emulator.queueUrl,
      URL2PNG_BUCKET: emulator.bucket,
      URL2PNG_EGRESS_ALLOW: allow,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
    timeout: 120_000,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? error.message }));
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(line) as { importMs: number; firstInvocationMs: number };
    return { importMs: round(parsed.importMs), firstInvocationMs: round(parsed.firstInvocationMs), totalMs: round(parsed.importMs + parsed.firstInvocationMs) };
  } catch {
    return { error: (run.stderr || run.stdout).slice(-400) };
  }
}

function printTable(r: BenchResult) {
  const rows: Array<[string, string]> = [
    ['raw floor (warm browser), screenshots/s  2 | 3 | 4 pages', `${r.floor.screenshotsPerSecond[2]} | ${r.floor.screenshotsPerSecond[3]} | ${r.floor.screenshotsPerSecond[4]}  (best ${r.floor.best})`],
    ['one warm render, p50', `${r.floor.warmRenderMsP50} ms`],
    ["chapter's model (launch/render/close), screenshots/s", `${r.chapterModel.screenshotsPerSecond}`],
    [`url2png pipeline, ${r.pipeline.jobs} jobs at once, screenshots/s`, `${r.pipeline.screenshotsPerSecond}  (${r.pipeline.burstSeconds} s, ${JSON.stringify(r.pipeline.outcomes)})`],
    ['single job at low load, POST -> done  p50 | p95', `${r.pipeline.singleJobLatencyMs.p50} | ${r.pipeline.singleJobLatencyMs.p95} ms  (p50 = warm render + ${r.pipeline.overheadOverWarmRenderMsP50} ms)`],
    ['peak memory, worker + browser | browser (PSS)', `${r.pipeline.peakMemoryMb.workerAndBrowser} | ${r.pipeline.peakMemoryMb.browser} MB`],
    ['bundle size, api.zip | worker.zip', `${r.bundles.apiZipKb} | ${r.bundles.workerZipKb} KiB`],
    ['cold start api: import + first invocation', fmtCold(r.coldStart.api)],
    ['cold start worker: import + first invocation (browser launch)', fmtCold(r.coldStart.worker)],
    ['ratio pipeline / floor', `${r.ratios.pipelineOverFloor}`],
    ["ratio pipeline / chapter's model", `${r.ratios.pipelineOverChapter}`],
    // The pipeline renders with the floor's browser and a queue, a store and an API besides, on the
    // same cores: pipeline / chapter cannot exceed this on the machine that ran it.
    ["ceiling for that ratio: floor / chapter's model", `${r.ratios.floorOverChapter}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`url2png benchmark (${r.machine.cores} cores)`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

function fmtCold(c: ColdStart) {
  return 'error' in c ? `failed: ${c.error}` : `${c.importMs} + ${c.firstInvocationMs} = ${c.totalMs} ms`;
}

await main();
process.exit(0);
