// url2png --batch urls.txt --out-dir shots/: one URL per line (blank lines and # comments skipped),
// the command's options applied to every one. Submitted as batches of up to 50 (POST /batches),
// followed until each batch settles, every done image saved into the directory.
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import {
  CliError,
  defaultFileName,
  download,
  EXIT,
  extensionFor,
  postJson,
  readStatus,
  Unreachable,
  type ClientOptions,
} from './client.js';
import type { ScreenshotStatus } from '../lib/contract/status.js';

/** The service's limit per POST /batches. */
const BATCH_SIZE = 50;

interface BatchStatus {
  id: string;
  status: 'queued' | 'done' | 'partial';
  counts: { total: number; queued: number; done: number; failed: number };
  jobs: ScreenshotStatus[];
}

export interface BatchRun {
  file: string;
  outDir: string;
  timeoutS: number;
  client: ClientOptions;
  /** The request for one URL, with the command's options. */
  request: (url: string) => Record<string, unknown>;
  progress: { step(phase: string, since?: number): void; end(ok: boolean, text: string): void };
  /** Called when nothing answers at the endpoint: answers the endpoint to use instead, or throws. */
  fallback: (error: Unreachable) => Promise<string>;
}

export interface BatchOutcome {
  exitCode: number;
  json: Record<string, unknown>;
  stdout?: string;
}

export async function readUrlList(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(
      EXIT.usage,
      `--batch: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      'usage',
    );
  }
  const urls = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  if (urls.length === 0) throw new CliError(EXIT.usage, `--batch: ${file} lists no URLs (one per line)`, 'usage');
  return urls;
}

export async function runBatch(endpoint: string, urls: string[], run: BatchRun): Promise<BatchOutcome> {
  const t0 = Date.now();
  const chunks: string[][] = [];
  for (let i = 0; i < urls.length; i += BATCH_SIZE) chunks.push(urls.slice(i, i + BATCH_SIZE));

  const statusUrls: string[] = [];
  for (const [n, chunk] of chunks.entries()) {
    run.progress.step(`submitting batch ${n + 1} of ${chunks.length} (${chunk.length} URLs) to ${endpoint}`, t0);
    const body = { requests: chunk.map((url) => run.request(url)) };
    let answer: Awaited<ReturnType<typeof postJson>>;
    try {
      answer = await postJson(endpoint, '/batches', body, run.client);
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      endpoint = await run.fallback(error);
      answer = await postJson(endpoint, '/batches', body, run.client);
    }
    statusUrls.push(String(answer.body.statusUrl));
  }

  const deadline = Date.now() + run.timeoutS * 1000;
  const settled: BatchStatus[] = [];
  for (const statusUrl of statusUrls) {
    for (;;) {
      const batch = await readStatus<BatchStatus>(statusUrl, run.client);
      const done = settled.reduce((n, b) => n + b.counts.total - b.counts.queued, 0) + batch.counts.total - batch.counts.queued;
      run.progress.step(`${done} of ${urls.length} settled`, t0);
      if (batch.status !== 'queued') {
        settled.push(batch);
        break;
      }
      if (Date.now() > deadline) {
        run.progress.end(false, `timed out after ${run.timeoutS}s with ${urls.length - done} still queued`);
        return {
          exitCode: EXIT.timeout,
          json: {
            status: 'timeout',
            batches: statusUrls,
            error: { code: 'timeout', message: `gave up waiting (--timeout); batch status: ${statusUrl}` },
          },
        };
      }
      await sleep(500);
    }
  }

  await mkdir(run.outDir, { recursive: true });
  const results: Array<Record<string, unknown>> = [];
  for (const job of settled.flatMap((b) => b.jobs)) {
    if (job.status !== 'done' || !job.imageUrl) {
      results.push({ id: job.id, url: job.url, status: job.status, error: job.error });
      continue;
    }
    run.progress.step(`downloading ${results.length + 1} of ${urls.length}`, t0);
    const image = await download(job.imageUrl);
    const file = resolve(join(run.outDir, defaultFileName(job.url, job.id, extensionFor(image.contentType ?? job.contentType))));
    await writeFile(file, image.bytes).catch((error: Error) => {
      throw new CliError(EXIT.failed, `could not write ${file}: ${error.message}`, 'write_failed');
    });
    results.push({ id: job.id, url: job.url, status: 'done', file, bytes: image.bytes.length });
  }
  const failed = results.filter((r) => r.status !== 'done');
  const saved = results.filter((r) => r.status === 'done');
  const summary = `${saved.length} saved to ${resolve(run.outDir)}, ${failed.length} failed, in ${((Date.now() - t0) / 1000).toFixed(1)}s`;
  run.progress.end(failed.length === 0, summary);
  for (const f of failed)
    process.stderr.write(
      `url2png: failed ${String(f.url)}: ${(f.error as { message?: string } | undefined)?.message ?? 'no reason given'}\n`,
    );
  return {
    exitCode: failed.length ? EXIT.failed : EXIT.ok,
    json: { status: failed.length ? 'partial' : 'done', batches: statusUrls, jobs: results },
    stdout: saved.map((r) => String(r.file)).join('\n') || undefined,
  };
}
