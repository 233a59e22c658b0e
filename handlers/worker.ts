// Worker Lambda: an SQS batch -> settled jobs; transient failures come back via batchItemFailures.
// Logs are JSON (Powertools Logger), every line about a job carries its jobId; metrics are
// CloudWatch EMF (Powertools Metrics), flushed at the end of each invocation.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { config } from '../lib/contract/config.js';
import { salvageJobId } from '../lib/contract/job.js';
import { createWorkerRuntime, type WorkerRuntime } from '../lib/worker/worker-runtime.js';

const logger = new Logger({ serviceName: 'url2png-worker' });
export const metrics = new Metrics({ namespace: 'url2png', serviceName: 'url2png-worker' });

/** Job ids being worked on in this process: browser events concern all of them. */
const inFlight = new Set<string>();

// Built on the first invocation and kept for the container's life: the browser is the expensive part.
let runtime: Promise<WorkerRuntime> | undefined;
export const workerRuntime = (): Promise<WorkerRuntime> =>
  (runtime ??= createWorkerRuntime(config(), {
    onBrowserEvent: (event, detail) =>
      logger[event === 'launched' ? 'info' : 'warn'](`browser ${event}`, { ...detail, jobIds: [...inFlight] }),
  }));

/** For the local runtime's shutdown: close the browser and the proxy. */
export async function closeWorkerRuntime(): Promise<void> {
  const current = runtime;
  runtime = undefined;
  await (await current?.catch(() => undefined))?.close();
}

function countFailure(name: 'JobsFailed' | 'JobsRetried', code: string) {
  const single = metrics.singleMetric();
  single.addDimension('code', code);
  single.addMetric(name, MetricUnit.Count, 1);
}

async function lambdaHandler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  // Every invocation has a metric of its own (the per-code failure counts are single metrics), so
  // Powertools never has an empty set to warn about on a batch that only failed.
  metrics.addMetric('JobsReceived', MetricUnit.Count, event.Records?.length ?? 0);
  const rt = await workerRuntime();
  const settleRecord = async (record: SQSRecord) => {
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? '1');
    const jobId = salvageJobId(record.body) ?? 'undecodable';
    const log = logger.createChild();
    log.appendPersistentKeys({ jobId, messageId: record.messageId, receiveCount });
    inFlight.add(jobId);
    try {
      const sent = Number(record.attributes?.SentTimestamp);
      const outcome = await rt.settle({
        body: record.body,
        receiveCount,
        remainingMs: () => context.getRemainingTimeInMillis(),
        log: (message, detail) => log.info(message, detail),
        sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent) : undefined,
      });
      if (outcome.status === 'done') {
        metrics.addMetric('JobsRendered', MetricUnit.Count, 1);
        metrics.addMetric('RenderDuration', MetricUnit.Milliseconds, outcome.renderMs ?? 0);
        metrics.addMetric('RequestToDone', MetricUnit.Milliseconds, outcome.sinceRequestMs ?? 0);
      } else if (outcome.status === 'failed') {
        countFailure('JobsFailed', outcome.code ?? 'unknown');
      } else {
        metrics.addMetric('JobsAlreadyDone', MetricUnit.Count, 1);
      }
      log.info('job settled', {
        outcome: outcome.status,
        code: outcome.code,
        renderMs: outcome.renderMs,
        sinceRequestMs: outcome.sinceRequestMs,
      });
    } catch (error) {
      const { code = 'internal_error', message, lastTry: last = false } = error as Error & { code?: string; lastTry?: boolean };
      // On the last receive lib/worker/settle.ts has written `failed`; SQS now moves the message to the DLQ.
      countFailure(last ? 'JobsFailed' : 'JobsRetried', code);
      // Back after a short backoff, not the visibility timeout (lib/worker/retry.ts).
      const retryInS = last
        ? undefined
        : await rt.retryLater(record.receiptHandle, receiveCount).catch((e: Error) => {
            log.warn('retry backoff not set; the record returns after the visibility timeout', { reason: e.message });
            return undefined;
          });
      log.warn(last ? 'job failed on its last receive; the DLQ takes it' : 'job will be retried', { code, reason: message, retryInS });
      throw error;
    } finally {
      inFlight.delete(jobId);
    }
  };
  // A processor per invocation: the local runtime may run several invocations in one process.
  const response = await processPartialResponse(event, settleRecord, new BatchProcessor(EventType.SQS), {
    context,
    throwOnFullBatchFailure: false, // a thrown error would fail (and redeliver) the whole batch
  });
  // Where the concurrency controller stands: the pages this container renders at once.
  metrics.addMetric('RenderConcurrency', MetricUnit.Count, rt.concurrency().limit);
  return response;
}

export const handler = middy(lambdaHandler)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
