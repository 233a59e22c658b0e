// Redrive Lambda: DLQ -> jobs queue (bounded), run by EventBridge when the DLQ-depth alarm changes
// state and on a schedule. The logic and its SDK clients live in lib/worker/redrive.ts; this adapter
// logs the report (EMF metrics: JobsRedriven, JobsRedriveExhausted).
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { config } from '../lib/contract/config.js';
import { createRedriveClients, redriveDeadLetters, type RedriveReport } from '../lib/worker/redrive.js';
import { TUNING } from '../lib/contract/tuning.js';

const logger = new Logger({ serviceName: 'url2png-redrive' });
const metrics = new Metrics({ namespace: 'url2png', serviceName: 'url2png-redrive' });

type AlarmDetail = { alarmName?: string; state?: { value?: string } };
export type RedriveEvent = EventBridgeEvent<string, AlarmDetail | Record<string, unknown>>;

async function lambdaHandler(event: RedriveEvent, _context: Context): Promise<RedriveReport> {
  const cfg = config();
  const detail = (event?.detail ?? {}) as AlarmDetail;
  const state = detail.state?.value;
  metrics.addMetric('RedriveRuns', MetricUnit.Count, 1); // never an empty set (Powertools warns on one)
  // An alarm going back to OK needs no work; ALARM, INSUFFICIENT_DATA and the schedule do.
  if (event?.['detail-type'] === 'CloudWatch Alarm State Change' && state === 'OK') {
    logger.info('DLQ alarm back to OK; nothing to redrive', { alarm: detail.alarmName });
    return { moved: 0, exhausted: 0, alreadyDone: 0, undecodable: 0, remaining: 0 };
  }
  const report = await redriveDeadLetters({
    ...redriveClients(),
    maxRedrives: cfg.maxRedrives,
    limit: TUNING.redriveBatchLimit,
    log: (message, detail) => logger.info(message, detail),
  });
  metrics.addMetric('JobsRedriven', MetricUnit.Count, report.moved);
  metrics.addMetric('JobsRedriveExhausted', MetricUnit.Count, report.exhausted);
  logger.info('redrive finished', { trigger: event?.['detail-type'] ?? 'manual', ...report });
  return report;
}

// Built on the first invocation and kept for the container's life, like every SDK client.
let clients: ReturnType<typeof createRedriveClients> | undefined;
const redriveClients = () => {
  clients ??= createRedriveClients(config());
  return clients;
};

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
