// The whole service on one machine: emulator, API over HTTP, event source mapping, worker.
// The handlers are imported exactly as Lambda imports them, after the environment that
// serverless.yml would give them has been set.
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { TUNING } from '../lib/tuning.js';
import { serveApi, type LocalApi } from './api-gateway.js';
import { startEmulator, LOCAL_CREDENTIALS, LOCAL_REGION, type Emulator } from './emulator.js';
import { startEventSourceMapping, type EventSourceMapping } from './event-source-mapping.js';
import { lambdaContext } from './lambda-context.js';

export interface LocalStackOptions {
  /** API port; 0 picks a free one. */
  port?: number;
  /** Emulator port; 0 picks a free one. */
  emulatorPort?: number;
  /** Concurrent worker invocations (Lambda's maximumConcurrency, scaled to this machine). */
  workerConcurrency?: number;
  log?: (line: string) => void;
}

export interface LocalStack {
  apiUrl: string;
  emulator: Emulator;
  mapping: EventSourceMapping;
  stop(): Promise<void>;
}

const envInt = (name: string, fallback: number) => {
  const raw = process.env[name];
  return raw && /^\d+$/.test(raw) ? Number(raw) : fallback;
};

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const visibilityTimeoutS = envInt('URL2PNG_VISIBILITY_TIMEOUT_S', TUNING.visibilityTimeoutSeconds);
  const maxReceiveCount = envInt('URL2PNG_MAX_RECEIVE_COUNT', TUNING.maxReceiveCount);
  const emulator = await startEmulator({ port: options.emulatorPort ?? 4566, visibilityTimeoutS, maxReceiveCount });

  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    URL2PNG_AWS_ENDPOINT: emulator.endpoint,
    URL2PNG_QUEUE_URL: emulator.queueUrl,
    URL2PNG_DLQ_URL: emulator.dlqUrl,
    URL2PNG_BUCKET: emulator.bucket,
    URL2PNG_MAX_RECEIVE_COUNT: String(maxReceiveCount),
    URL2PNG_VISIBILITY_TIMEOUT_S: String(visibilityTimeoutS),
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  });
  const api = await import('../handlers/api.js');
  const worker = await import('../handlers/worker.js');

  let http: LocalApi | undefined;
  let mapping: EventSourceMapping | undefined;
  try {
    http = await serveApi(api.handler, { port: options.port ?? 3000, timeoutMs: TUNING.apiTimeoutSeconds * 1000 });
    const workerTimeoutMs = TUNING.workerTimeoutSeconds * 1000;
    mapping = startEventSourceMapping({
      sqs: new SQSClient({ region: LOCAL_REGION, endpoint: emulator.endpoint, credentials: LOCAL_CREDENTIALS }),
      queueUrl: emulator.queueUrl,
      queueArn: `arn:aws:sqs:${LOCAL_REGION}:000000000000:${emulator.queueUrl.split('/').pop()}`,
      region: LOCAL_REGION,
      batchSize: TUNING.batchSize,
      batchingWindowS: TUNING.maximumBatchingWindowSeconds,
      concurrency: options.workerConcurrency ?? 2,
      invoke: (event: SQSEvent) => worker.handler(event, lambdaContext('url2png-local-worker', workerTimeoutMs, TUNING.workerMemoryMb)),
      onError: (error) => options.log?.(`worker invocation failed: ${(error as Error).message}`),
    });
  } catch (error) {
    await http?.close();
    await emulator.stop();
    throw error;
  }
  const started = { http, mapping };
  return {
    apiUrl: http.url,
    emulator,
    mapping,
    async stop() {
      await started.http.close();
      await started.mapping.stop();
      await worker.closeWorkerRuntime();
      await emulator.stop();
    },
  };
}
