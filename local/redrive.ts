// `npm run redrive`: runs the redrive function once against the stack `npm start` is running
// (DLQ -> jobs queue, bounded by URL2PNG_MAX_REDRIVES), as its schedule would on AWS, and prints
// the report. It signs with the emulator secret `npm start` keeps in its data directory
// (URL2PNG_DATA_DIR, default .url2png; lib/storage/aws.ts). Same as `npx serverless invoke local --stage local -f redrive -p events/redrive-schedule.json`.
import { LOCAL_NAMES, LOCAL_REGION } from './emulator.js';
import { lambdaContext } from './lambda-context.js';
import { scheduledEvent } from './scheduled-event.js';

const port = Number(process.env.URL2PNG_EMULATOR_PORT ?? 4566);
const endpoint = `http://127.0.0.1:${port}`;
const sqsBase = `http://sqs.${LOCAL_REGION}.127.0.0.1:${port}/000000000000`;
Object.assign(process.env, {
  AWS_REGION: LOCAL_REGION,
  URL2PNG_AWS_ENDPOINT: endpoint,
  URL2PNG_QUEUE_URL: process.env.URL2PNG_QUEUE_URL ?? `${sqsBase}/${LOCAL_NAMES.queue}`,
  URL2PNG_DLQ_URL: process.env.URL2PNG_DLQ_URL ?? `${sqsBase}/${LOCAL_NAMES.dlq}`,
  URL2PNG_BUCKET: LOCAL_NAMES.bucket,
  POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
});
const { handler } = await import('../handlers/redrive.js');
const report = await handler(scheduledEvent(), lambdaContext('url2png-local-redrive', 120_000));
console.log(JSON.stringify(report));
