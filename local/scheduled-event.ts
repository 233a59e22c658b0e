// The EventBridge event a schedule rule hands the redrive function, as the local runtime sends it.
import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import { LOCAL_REGION } from './emulator.js';

export function scheduledEvent(rule = 'url2png-local-redrive'): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:000000000000:rule/${rule}`],
    detail: {},
  };
}
