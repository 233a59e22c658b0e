// Shared pieces of the reliability tests: a local stack with short tuning, fault-injection
// handles (the worker's browser, a cut-able link from the worker to S3), status polling through
// the HTTP API, and the worker's EMF metrics and JSON logs as the process printed them.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { LOCAL_REGION } from '../../local/emulator.js';
import type { ScreenshotStatus } from '../../lib/contract/status.js';
import { processes } from '../../fixtures/procs.js';

const SHORT_TUNING = {
  URL2PNG_VISIBILITY_TIMEOUT_S: '3',
  URL2PNG_MAX_RECEIVE_COUNT: '3',
  URL2PNG_RENDER_TIMEOUT_MS: '1500',
};

export interface Harness {
  stack: LocalStack;
  sqs: SQSClient;
  /** Every line the worker process printed, in order. */
  output: string[];
  close(): Promise<void>;
}

export async function startHarness(options: {
  allow: string[];
  env?: Record<string, string>;
  workerEnv?: Record<string, string>;
  workerConcurrency?: number;
  /** Loopback `host:port`s forwarding to the emulator (a Link) that it must answer too. */
  emulatorHosts?: string[];
}): Promise<Harness> {
  process.env.URL2PNG_EGRESS_ALLOW = options.allow.join(',');
  Object.assign(process.env, SHORT_TUNING, options.env ?? {});
  const stack = await startLocalStack({
    port: 0,
    emulatorPort: 0,
    workerConcurrency: options.workerConcurrency,
    emulatorHosts: options.emulatorHosts,
    // The worker's EMF metrics are part of what these tests check (global setup turns them off).
    workerEnv: { POWERTOOLS_METRICS_DISABLED: 'false', ...options.workerEnv },
  });
  const output: string[] = [];
  stack.worker.onOutput((line) => output.push(line));
  const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: stack.emulator.endpoint, credentials: stack.emulator.credentials });
  return {
    stack,
    sqs,
    output,
    async close() {
      sqs.destroy();
      await stack.stop();
    },
  };
}

export async function getStatus(apiUrl: string, id: string): Promise<ScreenshotStatus> {
  return (await (await fetch(`${apiUrl}/screenshots/${id}`)).json()) as ScreenshotStatus;
}

/** Polls every id through the API until none is `queued` (or the time runs out); returns the last statuses. */
export async function settleAll(apiUrl: string, ids: string[], timeoutMs: number): Promise<Map<string, ScreenshotStatus>> {
  const seen = new Map<string, ScreenshotStatus>();
  const until = Date.now() + timeoutMs;
  let open = [...ids];
  while (open.length && Date.now() < until) {
    const bodies = await Promise.all(open.map((id) => getStatus(apiUrl, id)));
    for (const [i, b] of bodies.entries()) seen.set(open[i]!, b);
    // Unknown (404, no status yet) counts as not settled too.
    open = bodies.map((b, i) => (b.status === 'done' || b.status === 'failed' ? undefined : open[i]!)).filter((x): x is string => !!x);
    if (open.length) await new Promise((r) => setTimeout(r, 250));
  }
  return seen;
}

/** The worker process's Chromium (the browser itself, not its helpers), if one runs. */
export function workerBrowserPid(stack: LocalStack): number | undefined {
  const workerPid = stack.worker.pid;
  return processes().find((p) => p.ppid === workerPid && p.pid === p.pgid && /chrom/i.test(p.cmdline) && !p.cmdline.includes('--type='))
    ?.pid;
}

/** SIGKILLs the worker's browser and all its helpers (what an OOM or a crash does). */
export function killWorkerBrowser(stack: LocalStack): number | undefined {
  const pid = workerBrowserPid(stack);
  if (pid) process.kill(-pid, 'SIGKILL');
  return pid;
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/**
 * Every body in a queue, however many: each receive hides what it got (so the next one answers
 * other messages) until a receive comes back empty, then all are made visible again, as they were.
 */
export async function peekBodies(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const seen = new Map<string, Message>();
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0 }),
    );
    if (!out.Messages?.length) break;
    for (const m of out.Messages) seen.set(m.MessageId!, m);
  }
  const messages = [...seen.values()];
  for (let i = 0; i < messages.length; i += 10) {
    const entries = messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
  return messages.map((m) => m.Body ?? '');
}

/** The worker's EMF blobs: metric name -> values, with the dimensions each came with. */
function emf(output: string[]): Array<{ name: string; values: number[]; code?: string }> {
  const found: Array<{ name: string; values: number[]; code?: string }> = [];
  for (const line of output) {
    if (!line.includes('"_aws"')) continue;
    const blob = JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> } };
    for (const directive of blob._aws.CloudWatchMetrics) {
      for (const { Name } of directive.Metrics) {
        const v = blob[Name];
        found.push({ name: Name, values: Array.isArray(v) ? (v as number[]) : [v as number], code: blob.code as string | undefined });
      }
    }
  }
  return found;
}

export const metricSum = (output: string[], name: string, code?: string) =>
  emf(output)
    .filter((m) => m.name === name && (code === undefined || m.code === code))
    .reduce((sum, m) => sum + m.values.reduce((a, b) => a + b, 0), 0);

/**
 * A TCP link the test can cut: the worker reaches S3 through it. Cut, it refuses connections and
 * drops open ones (S3 unreachable, as in an outage); restored, it forwards again. A real network
 * fault, not a mocked client.
 */
export interface Link {
  port: number;
  target: { port: number };
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startLink(): Promise<Link> {
  const target = { port: 0 };
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(target.port, '127.0.0.1');
        sockets.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream).pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!server) return resolve();
      const s = server;
      server = undefined;
      s.close(() => resolve());
    });
  await listen();
  return {
    get port() {
      return port;
    },
    target,
    cut: stop,
    restore: listen,
    close: stop,
  };
}
