// `npm run bench`: how close the pipeline comes to the browser's own speed, measured in one run on
// pages served on 127.0.0.1 with the same Chromium binary. A benchmark, not a test: it asserts
// nothing. `--json` prints the same figures as JSON.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { Browser } from 'puppeteer-core';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveExecutable } from '../lib/capture/browser.js';
import { encodeJob, newJob } from '../lib/contract/job.js';
import { startLocalStack, type LocalStack } from '../local/stack.js';
import type { Emulator } from '../local/emulator.js';
import { servePages } from '../fixtures/pages.js';
import { BENCH_PAGE, launchBareBrowser, launchBenchBrowser, networkBoundRoutes, renderBare, renderIsolated } from './page.js';
import { processes, TICKS_PER_SECOND, treeOf } from '../fixtures/procs.js';
import { packageService } from '../fixtures/serverless.js';
import { sampleMemory } from './proc-memory.js';
import { type BlockingBench, blockingBench, blockingRows } from './blocking.js';

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
/**
 * A packaged bundle's first event in a fresh process. For the worker, in parts: `extractionMs` is
 * @sparticuz/chromium unpacking its binary into an empty /tmp, `firstInvocationMs` the first job
 * (browser launch + first render + storage), `secondInvocationMs` the next job on the warm browser;
 * so the launch is about first − second.
 */
type ColdStart =
  | { importMs: number; extractionMs?: number; firstInvocationMs: number; secondInvocationMs?: number; totalMs: number }
  | { error: string };

interface Burst {
  jobs: number;
  outcomes: Record<string, number>;
  burstSeconds: number;
  screenshotsPerSecond: number;
  /** Peak PSS of the worker process tree (worker + Chromium) and of Chromium alone. */
  peakMemoryMb: { workerAndBrowser: number; browser: number };
  /** CPU per job, by process: what Lambda would also pay (worker, browser) and what only the local emulator costs. */
  cpuMsPerJob: { worker: number; browser: number; localEmulatorApiAndClient: number };
  /** The worker's RenderConcurrency metric: highest and last value during the burst. */
  concurrency: { peak: number; last: number };
}

interface NetworkBound {
  latencyMs: number;
  floor: Record<string, number>;
  best: number;
  /** The bare browser (bench/page.ts): puppeteer's defaults, no worker flags. */
  bareFloor: Record<string, number>;
  bareBest: number;
  pipeline: Burst;
  pipelineOverFloor: number;
  pipelineOverBareFloor: number;
}

interface BenchResult {
  machine: { cores: number };
  floor: { screenshotsPerSecond: Record<string, number>; best: number; warmRenderMsP50: number };
  /** One warm bare browser (bench/page.ts), a fresh context per job: what a plain puppeteer script gets. */
  bareFloor: { screenshotsPerSecond: Record<string, number>; best: number; warmRenderMsP50: number };
  chapterModel: { screenshotsPerSecond: number };
  pipeline: Burst & {
    singleJobLatencyMs: { p50: number; p95: number };
    overheadOverWarmRenderMsP50: number;
    overheadOverBareWarmRenderMsP50: number;
  };
  networkBound: NetworkBound[];
  ratios: { pipelineOverFloor: number; pipelineOverBareFloor: number; pipelineOverChapter: number; floorOverChapter: number };
  bundles?: { apiZipKb: number; workerZipKb: number };
  coldStart?: { api: ColdStart; worker: ColdStart };
  blocking?: BlockingBench;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** A browser and how it renders one job: the worker's flags and settings, or the bare browser's. */
interface FloorKind {
  launch: (executablePath: string) => Promise<Browser>;
  render: (browser: Browser, url: string) => Promise<void>;
}
const WORKER_FLAGS: FloorKind = { launch: launchBenchBrowser, render: renderIsolated };
const BARE: FloorKind = { launch: launchBareBrowser, render: renderBare };

/** Raw floor: one warm browser, `concurrency` jobs at once, no queue, no storage, no proxy. */
async function floor(executablePath: string, url: string, concurrency: number, jobs: number, kind: FloorKind = WORKER_FLAGS) {
  const browser = await kind.launch(executablePath);
  for (let i = 0; i < 3; i++) await kind.render(browser, url);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < jobs) await kind.render(browser, url);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await browser.close();
  return jobs / seconds;
}

/** The floor at each of `pageCounts` pages at once (screenshots/s), and the best of them. */
async function floorsAt(executablePath: string, url: string, pageCounts: number[], jobs: number, kind: FloorKind = WORKER_FLAGS) {
  const byPages: Record<string, number> = {};
  for (const c of pageCounts) byPages[c] = await floor(executablePath, url, c, jobs, kind);
  return { byPages, best: Math.max(...Object.values(byPages)) };
}

const roundValues = (byPages: Record<string, number>, d = 1) =>
  Object.fromEntries(Object.entries(byPages).map(([k, v]) => [k, round(v, d)]));

/** One warm render at a time: the latency floor of a single job. */
async function warmRenderMs(executablePath: string, url: string, kind: FloorKind = WORKER_FLAGS, jobs = 20) {
  const browser = await kind.launch(executablePath);
  for (let i = 0; i < 3; i++) await kind.render(browser, url);
  const times: number[] = [];
  for (let i = 0; i < jobs; i++) {
    const t = performance.now();
    await kind.render(browser, url);
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
  const res = await fetch(`${apiUrl}/screenshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url }),
  });
  if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { statusUrl: string }).statusUrl;
}

async function status(statusUrl: string) {
  return (await (await fetch(statusUrl)).json()) as { status: string; updatedAt: string };
}

/** Sub-resource latencies of the network-bound pages, and their floor's pages at once. */
const NETWORK_LATENCIES_MS = (process.env.BENCH_NETWORK_MS ?? '400,1500').split(',').map(Number);
const NETWORK_FLOOR_PAGES = [4, 8, 12, 16];
/** The worker-flag floor's pages at once on the simple page. */
const FLOOR_PAGES = [2, 3, 4];
/** The bare browser's pages at once: the simple page, the network-bound one. */
const BARE_PAGES = [2, 3, 4];
const BARE_NETWORK_PAGES = [4, 8, 12];
const NETWORK_JOBS = Number(process.env.BENCH_NETWORK_JOBS ?? 64);

/** CPU ticks so far of this process (emulator, API, mapping, bench client), the worker and its Chromium. */
function cpuTicks(workerPid: number | undefined) {
  const all = processes();
  const tree = workerPid ? treeOf(workerPid, all) : [];
  const sum = (ps: typeof all) => ps.reduce((t, p) => t + p.cpuTicks, 0);
  const isBrowser = (p: (typeof all)[number]) => /chrom|headless/i.test(p.comm);
  return {
    worker: sum(tree.filter((p) => !isBrowser(p))),
    browser: sum(tree.filter(isBrowser)),
    localEmulatorApiAndClient: sum(all.filter((p) => p.pid === process.pid)),
  };
}

/** `n` jobs at once through the whole pipeline, measured from the status records. */
async function pipelineBurst(stack: LocalStack, url: string, n: number): Promise<Burst> {
  const workerPid = () => stack.worker.pid ?? process.pid;
  const memory = sampleMemory(200, workerPid);
  const concurrency = { peak: 0, last: 0 };
  const unsubscribe = stack.worker.onOutput((line) => {
    if (!line.includes('"RenderConcurrency"')) return;
    try {
      const value = (JSON.parse(line) as { RenderConcurrency?: number }).RenderConcurrency;
      if (typeof value === 'number') [concurrency.peak, concurrency.last] = [Math.max(concurrency.peak, value), value];
    } catch {
      /* not an EMF line */
    }
  });
  const cpuBefore = cpuTicks(stack.worker.pid);
  const t0 = Date.now();
  const statusUrls = await Promise.all(Array.from({ length: n }, () => post(stack.apiUrl, url)));
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
  const cpuAfter = cpuTicks(stack.worker.pid);
  unsubscribe();
  const burstSeconds = (Math.max(...settledAt) - t0) / 1000;
  const peak = memory.stop();
  const perJob = (k: keyof typeof cpuAfter) => round(((cpuAfter[k] - cpuBefore[k]) * (1000 / TICKS_PER_SECOND)) / n, 0);
  return {
    jobs: n,
    outcomes,
    burstSeconds: round(burstSeconds, 2),
    screenshotsPerSecond: round(n / burstSeconds, 2),
    peakMemoryMb: { workerAndBrowser: Math.round(peak.totalMb), browser: Math.round(peak.browserMb) },
    cpuMsPerJob: { worker: perJob('worker'), browser: perJob('browser'), localEmulatorApiAndClient: perJob('localEmulatorApiAndClient') },
    concurrency,
  };
}

/** BENCH_ONLY: `blocking` (about a minute), `throughput` (floors, bursts, single jobs), `cold` (packaging and cold starts). */
const ONLY = process.env.BENCH_ONLY;
const runs = (part: 'throughput' | 'blocking' | 'cold') => !ONLY || ONLY === part;

async function main() {
  const executablePath = await resolveExecutable(process.env.CHROMIUM_PATH || undefined);
  if (ONLY === 'blocking') {
    const blocking = await blockingBench(executablePath, log);
    if (asJson) console.log(JSON.stringify({ blocking }, null, 2));
    else printRows(blockingRows(blocking));
    return;
  }
  const pages = await servePages({
    '/page': BENCH_PAGE,
    ...Object.assign({}, ...NETWORK_LATENCIES_MS.map((ms) => networkBoundRoutes(ms, `/net${ms}`))),
  });
  const url = `${pages.origin}/page`;
  const netUrl = (ms: number) => `${pages.origin}/net${ms}/page`;

  // Each pipeline burst runs right after the floors it is compared with, and the single jobs right
  // after the warm renders: this machine's speed drifts by up to 15 % over minutes, and measured
  // minutes apart a ratio showed the drift as much as the pipeline.
  process.env.URL2PNG_EGRESS_ALLOW = pages.hostPort;
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const stack = await startLocalStack({ port: 0, emulatorPort: 0 });
  if (ONLY === 'cold') {
    const coldStart = await coldStarts(url, stack, pages.hostPort);
    await stack.stop();
    await pages.close();
    if (asJson) console.log(JSON.stringify({ coldStart: coldStart.cold, bundles: coldStart.bundles }, null, 2));
    else printRows(coldRows(coldStart.cold, coldStart.bundles));
    return;
  }
  for (const u of await Promise.all(Array.from({ length: 6 }, () => post(stack.apiUrl, url)))) {
    while ((await status(u)).status === 'queued') await new Promise((r) => setTimeout(r, 20));
  }

  log('chapter model: launch, render, close...');
  const chapter = await chapterModel(executablePath, url);
  log(`floor: warm browser, ${FLOOR_PAGES.join('/')} pages at once...`);
  const floors = await floorsAt(executablePath, url, FLOOR_PAGES, 60);
  log(`bare floor: warm bare browser, ${BARE_PAGES.join('/')} pages at once...`);
  const bareFloors = await floorsAt(executablePath, url, BARE_PAGES, 60, BARE);
  log(`pipeline: local stack, ${N} jobs at once...`);
  const simple = await pipelineBurst(stack, url, N);

  const networkBound: NetworkBound[] = [];
  for (const ms of NETWORK_LATENCIES_MS) {
    log(`floor, network-bound page (6 sub-resources x ${ms} ms): ${NETWORK_FLOOR_PAGES.join('/')} pages at once...`);
    const netFloors = await floorsAt(executablePath, netUrl(ms), NETWORK_FLOOR_PAGES, NETWORK_JOBS);
    log(`bare floor, network-bound page (${ms} ms): ${BARE_NETWORK_PAGES.join('/')} pages at once...`);
    const bareNet = await floorsAt(executablePath, netUrl(ms), BARE_NETWORK_PAGES, NETWORK_JOBS, BARE);
    log(`pipeline: network-bound page (${ms} ms), ${NETWORK_JOBS} jobs at once...`);
    const burst = await pipelineBurst(stack, netUrl(ms), NETWORK_JOBS);
    // Rounded before the ratios, as they are shown (rounding keeps which is best).
    const best = round(netFloors.best, 2);
    const bareBest = round(bareNet.best, 2);
    networkBound.push({
      latencyMs: ms,
      floor: roundValues(netFloors.byPages, 2),
      best,
      bareFloor: roundValues(bareNet.byPages, 2),
      bareBest,
      pipeline: burst,
      pipelineOverFloor: round(burst.screenshotsPerSecond / best, 2),
      pipelineOverBareFloor: round(burst.screenshotsPerSecond / bareBest, 2),
    });
  }

  log('one warm render (worker flags, bare browser), then single jobs through the pipeline at low load...');
  const warmMs = await warmRenderMs(executablePath, url);
  const bareWarmMs = await warmRenderMs(executablePath, url, BARE);
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

  let blocking: BlockingBench | undefined;
  if (runs('blocking')) {
    log('blocking off vs on (bench/blocking.ts)...');
    blocking = await blockingBench(executablePath, log);
  }
  const cold = runs('cold') ? await coldStarts(url, stack, pages.hostPort) : undefined;
  await stack.stop();
  await pages.close();

  const result: BenchResult = {
    machine: { cores: (await import('node:os')).cpus().length },
    floor: {
      screenshotsPerSecond: roundValues(floors.byPages),
      best: round(floors.best),
      warmRenderMsP50: round(warmMs),
    },
    bareFloor: {
      screenshotsPerSecond: roundValues(bareFloors.byPages),
      best: round(bareFloors.best),
      warmRenderMsP50: round(bareWarmMs),
    },
    chapterModel: { screenshotsPerSecond: round(chapter, 2) },
    pipeline: {
      ...simple,
      singleJobLatencyMs: { p50: pct(latencies, 50), p95: pct(latencies, 95) },
      overheadOverWarmRenderMsP50: round(pct(latencies, 50) - warmMs),
      overheadOverBareWarmRenderMsP50: round(pct(latencies, 50) - bareWarmMs),
    },
    networkBound,
    ratios: {
      pipelineOverFloor: round(simple.screenshotsPerSecond / floors.best, 2),
      pipelineOverBareFloor: round(simple.screenshotsPerSecond / bareFloors.best, 2),
      pipelineOverChapter: round(simple.screenshotsPerSecond / chapter, 2),
      floorOverChapter: round(floors.best / chapter, 2),
    },
    ...(cold ? { bundles: cold.bundles, coldStart: cold.cold } : {}),
    ...(blocking ? { blocking } : {}),
  };
  if (asJson) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    printTable(result);
  }
}

async function coldStarts(url: string, stack: LocalStack, allow: string) {
  log('packaging (serverless package) for bundle sizes and cold starts...');
  const pkg = await packageService('prod');
  const cold = {
    api: await coldStart(pkg.dir, 'api', [apiGetEvent()], stack.emulator),
    worker: await coldStart(pkg.dir, 'worker', [workerEvent(url, 1), workerEvent(url, 2)], stack.emulator, allow),
  };
  const bundles = { apiZipKb: Math.round(pkg.artifacts['api.zip']! / 1024), workerZipKb: Math.round(pkg.artifacts['worker.zip']! / 1024) };
  return { cold, bundles };
}

function apiGetEvent() {
  return resolve('events/api-get.json');
}

function workerEvent(url: string, n: number): string {
  const job = newJob(url, { width: 1280, height: 800, fullPage: false } as Parameters<typeof newJob>[1]);
  const file = join(scratch, `worker-event-${n}.json`);
  const record = {
    messageId: `bench-${n}`,
    receiptHandle: 'r',
    body: encodeJob(job),
    attributes: { ApproximateReceiveCount: '1' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
    awsRegion: 'us-east-1',
  };
  writeFileSync(file, JSON.stringify({ Records: [record] }));
  return file;
}

/**
 * A fresh Node process loads the packaged bundle (unzipped, as Lambda does) and runs one event.
 * Asynchronous on purpose: the emulator it talks to lives in this process.
 */
async function coldStart(
  dir: string,
  fn: string,
  eventFiles: [string] | [string, string],
  emulator: Pick<Emulator, 'endpoint' | 'queueUrl' | 'bucket' | 'credentials'>,
  allow = '',
): Promise<ColdStart> {
  const root = join(scratch, `cold-${fn}`);
  mkdirSync(root);
  execFileSync('unzip', ['-q', join(dir, '.serverless', `${fn}.zip`), '-d', root]);
  // The worker's Chromium is unpacked on its own first (the same call its first job makes, which then
  // finds it in place), into a /tmp of its own: on a new Lambda instance /tmp is empty.
  const chromiumEntry = join(root, 'node_modules', '@sparticuz', 'chromium', 'build', 'index.js');
  const extract = fn === 'worker' && existsSync(chromiumEntry);
  const tmp = join(root, 'tmp');
  mkdirSync(tmp);
  const script = `
    const { readFile } = await import('node:fs/promises');
    const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 60000 };
    const invoke = async (file) => mod.handler(JSON.parse(await readFile(file, 'utf8')), context);
    const t0 = performance.now();
    const mod = await import(${JSON.stringify(join(root, 'handlers', `${fn}.js`))});
    const t1 = performance.now();
    ${extract ? `await (await import(${JSON.stringify(chromiumEntry)})).default.executablePath();` : ''}
    const t2 = performance.now();
    const out = await invoke(${JSON.stringify(eventFiles[0])});
    const t3 = performance.now();
    ${eventFiles[1] ? `await invoke(${JSON.stringify(eventFiles[1])});` : ''}
    const t4 = performance.now();
    console.log(JSON.stringify({
      importMs: t1 - t0,
      ${extract ? 'extractionMs: t2 - t1,' : ''}
      firstInvocationMs: t3 - t2,
      ${eventFiles[1] ? 'secondInvocationMs: t4 - t3,' : ''}
      result: out.statusCode ?? out.batchItemFailures?.length,
    }));
    process.exit(0);`;
  const run = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      TMPDIR: tmp,
      FONTCONFIG_PATH: '',
      CHROMIUM_PATH: '',
      URL2PNG_AWS_ENDPOINT: emulator.endpoint,
      URL2PNG_EMULATOR_SECRET: emulator.credentials.secretAccessKey,
      URL2PNG_QUEUE_URL: emulator.queueUrl,
      URL2PNG_BUCKET: emulator.bucket,
      URL2PNG_EGRESS_ALLOW: allow,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
    timeout: 120_000,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => ({
    stdout: error.stdout ?? '',
    stderr: error.stderr ?? error.message,
  }));
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(line) as { importMs: number; extractionMs?: number; firstInvocationMs: number; secondInvocationMs?: number };
    return {
      importMs: round(parsed.importMs),
      ...(parsed.extractionMs !== undefined ? { extractionMs: round(parsed.extractionMs) } : {}),
      firstInvocationMs: round(parsed.firstInvocationMs),
      ...(parsed.secondInvocationMs !== undefined ? { secondInvocationMs: round(parsed.secondInvocationMs) } : {}),
      totalMs: round(parsed.importMs + (parsed.extractionMs ?? 0) + parsed.firstInvocationMs),
    };
  } catch {
    return { error: (run.stderr || run.stdout).slice(-400) };
  }
}

/** A floor's row: screenshots/s at each page count, and the best. */
function floorRow(name: string, f: BenchResult['floor'], pageCounts: number[]): [string, string] {
  return [
    `${name}, screenshots/s  ${pageCounts.join(' | ')} pages`,
    `${pageCounts.map((c) => f.screenshotsPerSecond[c]).join(' | ')}  (best ${f.best})`,
  ];
}

function printTable(r: BenchResult) {
  const rows: Array<[string, string]> = [
    floorRow('raw floor (warm browser)', r.floor, FLOOR_PAGES),
    ['one warm render, p50', `${r.floor.warmRenderMsP50} ms`],
    floorRow('bare floor (bare browser)', r.bareFloor, BARE_PAGES),
    ['one warm render on the bare browser, p50', `${r.bareFloor.warmRenderMsP50} ms`],
    ["chapter's model (launch/render/close), screenshots/s", `${r.chapterModel.screenshotsPerSecond}`],
    [
      `url2png pipeline, ${r.pipeline.jobs} jobs at once, screenshots/s`,
      `${r.pipeline.screenshotsPerSecond}  (${r.pipeline.burstSeconds} s, ${JSON.stringify(r.pipeline.outcomes)})`,
    ],
    ['  pages at once reached by the controller  peak | last', `${r.pipeline.concurrency.peak} | ${r.pipeline.concurrency.last}`],
    ['  CPU per job: worker | browser | local emulator+API+client', fmtCpu(r.pipeline)],
    [
      'single job at low load, POST -> done  p50 | p95',
      `${r.pipeline.singleJobLatencyMs.p50} | ${r.pipeline.singleJobLatencyMs.p95} ms  (p50 = warm render + ${r.pipeline.overheadOverWarmRenderMsP50} ms, bare warm render + ${r.pipeline.overheadOverBareWarmRenderMsP50} ms)`,
    ],
    [
      'peak memory, worker + browser | browser (PSS)',
      `${r.pipeline.peakMemoryMb.workerAndBrowser} | ${r.pipeline.peakMemoryMb.browser} MB`,
    ],
    ...r.networkBound.flatMap(
      (n): Array<[string, string]> => [
        [
          `network-bound page (6 x ${n.latencyMs} ms): floor ${Object.keys(n.floor).join(' | ')} pages`,
          `${Object.values(n.floor).join(' | ')}  (best ${n.best})`,
        ],
        [`  bare floor ${Object.keys(n.bareFloor).join(' | ')} pages`, `${Object.values(n.bareFloor).join(' | ')}  (best ${n.bareBest})`],
        [
          `  pipeline, ${n.pipeline.jobs} jobs at once, screenshots/s`,
          `${n.pipeline.screenshotsPerSecond}  (${n.pipeline.burstSeconds} s, ${JSON.stringify(n.pipeline.outcomes)})`,
        ],
        ['  pages at once reached by the controller  peak | last', `${n.pipeline.concurrency.peak} | ${n.pipeline.concurrency.last}`],
        [
          '  peak memory at that concurrency, worker + browser | browser',
          `${n.pipeline.peakMemoryMb.workerAndBrowser} | ${n.pipeline.peakMemoryMb.browser} MB`,
        ],
        ['  CPU per job: worker | browser | local emulator+API+client', fmtCpu(n.pipeline)],
        ['  ratio pipeline / best floor | best bare floor', `${n.pipelineOverFloor} | ${n.pipelineOverBareFloor}`],
      ],
    ),
    ...(r.coldStart && r.bundles ? coldRows(r.coldStart, r.bundles) : []),
    ['ratio pipeline / floor | bare floor (simple page)', `${r.ratios.pipelineOverFloor} | ${r.ratios.pipelineOverBareFloor}`],
    ["ratio pipeline / chapter's model", `${r.ratios.pipelineOverChapter}`],
    // The pipeline renders with the floor's browser and a queue, a store and an API besides, on the
    // same cores: pipeline / chapter cannot exceed this on the machine that ran it.
    ["ceiling for that ratio: floor / chapter's model", `${r.ratios.floorOverChapter}`],
    ...(r.blocking ? blockingRows(r.blocking) : []),
  ];
  console.log(`url2png benchmark (${r.machine.cores} cores)`);
  printRows(rows);
}

function printRows(rows: Array<[string, string]>) {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

function fmtCpu(b: Burst) {
  return `${b.cpuMsPerJob.worker} | ${b.cpuMsPerJob.browser} | ${b.cpuMsPerJob.localEmulatorApiAndClient} ms`;
}

function coldRows(cold: NonNullable<BenchResult['coldStart']>, bundles: NonNullable<BenchResult['bundles']>): Array<[string, string]> {
  const w = cold.worker;
  return [
    ['bundle size, api.zip | worker.zip', `${bundles.apiZipKb} | ${bundles.workerZipKb} KiB`],
    ['cold start api: import + first invocation', fmtCold(cold.api)],
    ['cold start worker: import + Chromium extraction + first job (launch, render)', fmtCold(w)],
    ...('error' in w || w.secondInvocationMs === undefined
      ? []
      : ([
          [
            '  second job (warm browser) | launch ~ first − second',
            `${w.secondInvocationMs} | ${round(w.firstInvocationMs - w.secondInvocationMs)} ms`,
          ],
        ] as Array<[string, string]>)),
  ];
}

function fmtCold(c: ColdStart) {
  if ('error' in c) return `failed: ${c.error}`;
  const parts = [c.importMs, ...(c.extractionMs !== undefined ? [c.extractionMs] : []), c.firstInvocationMs];
  return `${parts.join(' + ')} = ${c.totalMs} ms`;
}

await main();
process.exit(0);
