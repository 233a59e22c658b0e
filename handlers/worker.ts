// Worker Lambda: an SQS batch -> settled jobs; transient failures come back via batchItemFailures.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { config } from '../lib/config.js';
import { createWorkerRuntime, type WorkerRuntime } from '../lib/worker-runtime.js';

const logger = new Logger({ serviceName: 'url2png-worker' });

// Built on the first invocation and kept for the container's life: the browser is the expensive part.
let runtime: Promise<WorkerRuntime> | undefined;
export const workerRuntime = (): Promise<WorkerRuntime> => (runtime ??= createWorkerRuntime(config()));

/** For the local runtime's shutdown: close the browser and the proxy. */
export async function closeWorkerRuntime(): Promise<void> {
  const current = runtime;
  runtime = undefined;
  await (await current?.catch(() => undefined))?.close();
}

async function lambdaHandler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const rt = await workerRuntime();
  const settleRecord = async (record: SQSRecord) => {
    const outcome = await rt
      .settle({
        body: record.body,
        receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? '1'),
        remainingMs: () => context.getRemainingTimeInMillis(),
      })
      .catch((error: Error & { code?: string }) => {
        logger.warn('job will be retried', { messageId: record.messageId, code: error.code, reason: error.message });
        throw error;
      });
    logger.info('job settled', { messageId: record.messageId, jobId: outcome.id, outcome: outcome.status, code: outcome.code });
  };
  // A processor per invocation: the local runtime may run several invocations in one process.
  return processPartialResponse(event, settleRecord, new BatchProcessor(EventType.SQS), {
    context,
    throwOnFullBatchFailure: false, // a thrown error would fail (and redeliver) the whole batch
  });
}

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger));
