// The whole service on one machine: emulator, API over HTTP, event source mapping, worker.
// The handlers are imported exactly as Lambda imports them, after the environment that
// serverless.yml would give them has been set.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { config } from '../lib/contract/config.js';
import { retryDelaySeconds } from '../lib/worker/retry.js';
import { TUNING } from '../lib/contract/tuning.js';
import { serveApi, type LocalApi } from './api-gateway.js';
import { EMULATOR_SECRET_FILE } from '../lib/storage/aws.js';
import { asFunction, attributeClient, installAwsHooks } from './aws-sdk-hooks.js';
import { startEmulator, LOCAL_REGION, type Emulator } from './emulator.js';
import { startEventSourceMapping, type EventSourceMapping } from './event-source-mapping.js';
import { lambdaContext } from './lambda-context.js';
import { scheduledEvent } from './scheduled-event.js';
import { startLocalWorker, type LocalWorker } from './worker-process.js';
import type { RedriveReport } from '../lib/worker/redrive.js';

export interface LocalStackOptions {
  /** API port; 0 picks a free one. */
  port?: number;
  /** Emulator port; 0 picks a free one. */
  emulatorPort?: number;
  /** Concurrent worker invocations (default: enough batches to fill the render ceiling). */
  workerConcurrency?: number;
  log?: (line: string) => void;
  /** Keep queues, messages and objects here across restarts (`npm start`); in memory when unset. */
  dataDir?: string;
  /** Extra environment for the worker's process only (e.g. a different AWS endpoint, for fault tests). */
  workerEnv?: Record<string, string>;
  /** Other loopback `host:port`s that forward to the emulator, which it then also answers (a test's cuttable link). */
  emulatorHosts?: string[];
}

export interface LocalStack {
  apiUrl: string;
  emulator: Emulator;
  mapping: EventSourceMapping;
  /** The worker function's own process (kill it to simulate a crashed Lambda). */
  worker: LocalWorker;
  /** Runs the redrive function once (DLQ -> jobs queue, bounded), as its schedule would. */
  redrive(): Promise<RedriveReport>;
  stop(): Promise<void>;
}

const envInt = (name: string, fallback: number) => {
  const raw = process.env[name];
  return raw && /^\d+$/.test(raw) ? Number(raw) : fallback;
};

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const visibilityTimeoutS = envInt('URL2PNG_VISIBILITY_TIMEOUT_S', TUNING.visibilityTimeoutSeconds);
  const maxReceiveCount = envInt('URL2PNG_MAX_RECEIVE_COUNT', TUNING.maxReceiveCount);
  // AWS's answers where the emulator is lenient, and the call log when asked (local/aws-sdk-hooks.ts).
  installAwsHooks();
  const emulator = await startEmulator({
    port: options.emulatorPort ?? 4566,
    visibilityTimeoutS,
    maxReceiveCount,
    dataDir: options.dataDir,
    extraHosts: options.emulatorHosts,
  });
  // The emulator's secret of this run goes to the stack's own processes in the environment, and to
  // tools started apart (`npm run redrive`, `serverless invoke local`) in the data directory, 0600.
  if (options.dataDir) writeFileSync(join(options.dataDir, EMULATOR_SECRET_FILE), emulator.credentials.secretAccessKey, { mode: 0o600 });

  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
    URL2PNG_EMULATOR_SECRET: emulator.credentials.secretAccessKey,
    URL2PNG_AWS_ENDPOINT: emulator.endpoint,
    URL2PNG_QUEUE_URL: emulator.queueUrl,
    URL2PNG_DLQ_URL: emulator.dlqUrl,
    URL2PNG_BUCKET: emulator.bucket,
    URL2PNG_MAX_RECEIVE_COUNT: String(maxReceiveCount),
    URL2PNG_VISIBILITY_TIMEOUT_S: String(visibilityTimeoutS),
    // The API and the worker keep what must outlive them (the receipt signing key) in the same directory.
    ...(options.dataDir ? { URL2PNG_DATA_DIR: options.dataDir } : {}),
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  });
  const api = await import('../handlers/api.js');
  const redriveFn = await import('../handlers/redrive.js');

  let http: LocalApi | undefined;
  let mapping: EventSourceMapping | undefined;
  let worker: LocalWorker | undefined;
  try {
    http = await serveApi((event, context) => asFunction('api', () => api.handler(event, context)), {
      port: options.port ?? 3000,
      timeoutMs: TUNING.apiTimeoutSeconds * 1000,
      // Optional locally; when set, POST needs it in x-api-key, as on API Gateway.
      apiKey: process.env.URL2PNG_API_KEY || undefined,
    });
    const workerTimeoutMs = TUNING.workerTimeoutSeconds * 1000;
    const ceiling = config().renderConcurrencyCeiling;
    // The worker runs in a process of its own, as Lambda runs it apart from SQS.
    worker = startLocalWorker({ timeoutMs: workerTimeoutMs, memoryMb: TUNING.workerMemoryMb, log: options.log, env: options.workerEnv });
    const fn = worker;
    mapping = startEventSourceMapping({
      // Lambda's event source mapping reads the queue with the function's role (AWS Lambda
      // Developer Guide, "Using Lambda with Amazon SQS", execution role permissions).
      sqs: attributeClient(
        new SQSClient({ region: LOCAL_REGION, endpoint: emulator.endpoint, credentials: emulator.credentials }),
        'worker',
      ),
      queueUrl: emulator.queueUrl,
      queueArn: `arn:aws:sqs:${LOCAL_REGION}:000000000000:${emulator.queueUrl.split('/').pop()}`,
      region: LOCAL_REGION,
      batchSize: TUNING.batchSize,
      batchingWindowS: TUNING.maximumBatchingWindowSeconds,
      // One worker process takes every invocation here (on Lambda each has its own): enough
      // records in hand that the pages waiting on a slow batch's last job do not starve the
      // render controller (lib/worker/adaptive-concurrency.ts) below its ceiling, and as many
      // invocations as it has pages, so the small batches that start a burst fill it at once.
      concurrency: options.workerConcurrency ?? ceiling,
      maxRecordsInFlight: options.workerConcurrency ? undefined : (Math.ceil(ceiling / TUNING.batchSize) + 1) * TUNING.batchSize,
      invoke: (event: SQSEvent) => fn.invoke(event),
      retryDelayS: (receiveCount) => {
        const cfg = config();
        return retryDelaySeconds(receiveCount, {
          baseS: cfg.retryBackoffS,
          maxS: cfg.retryBackoffMaxS,
          visibilityTimeoutS: visibilityTimeoutS,
        });
      },
      onError: (error) => options.log?.(`worker invocation failed: ${(error as Error).message}`),
    });
  } catch (error) {
    await http?.close();
    await worker?.stop();
    await emulator.stop();
    throw error;
  }
  const started = { http, mapping, worker };
  return {
    apiUrl: http.url,
    emulator,
    mapping,
    worker,
    redrive: () =>
      asFunction('redrive', () =>
        redriveFn.handler(scheduledEvent(), lambdaContext('url2png-local-redrive', TUNING.redriveTimeoutSeconds * 1000)),
      ),
    async stop() {
      await started.http.close();
      // Stop polling, then end the worker (its in-flight batches fail and come back, as on
      // Lambda), then wait for the pollers, then the emulator.
      const polling = started.mapping.stop();
      await started.worker.stop();
      await polling;
      await emulator.stop();
    },
  };
}
