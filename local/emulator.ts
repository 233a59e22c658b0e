// The embedded SQS+S3 emulator (fauxqs) on 127.0.0.1, with the queues and bucket of the template:
// same redrive policy, visibility timeout and DLQ retention, read from the same tuning.
// In memory by default (tests, the CLI's in-process mode); with a data directory (`npm start`) every
// change is written through to disk: queues and messages in SQLite (<dir>/sqs/fauxqs.db), objects
// as plain files (<dir>/s3/buckets/<bucket>/objects/<key>.data), so a crash loses nothing.
import { Server } from 'node:net';
import { join } from 'node:path';
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { TUNING } from '../lib/contract/tuning.js';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
export const LOCAL_NAMES = {
  queue: 'url2png-local-jobs',
  dlq: 'url2png-local-jobs-dlq',
  bucket: 'url2png-local-images',
};

export interface EmulatorOptions {
  port?: number;
  visibilityTimeoutS?: number;
  maxReceiveCount?: number;
  /** Keep queues, messages and objects in this directory across restarts (created if missing). */
  dataDir?: string;
}

export interface Emulator {
  endpoint: string;
  port: number;
  queueUrl: string;
  dlqUrl: string;
  bucket: string;
  server: FauxqsServer;
  /** Messages that were in flight in the data directory when the emulator started, made visible again. */
  released: number;
  stop(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const persistence = options.dataDir ? { dataDir: join(options.dataDir, 'sqs'), s3StorageDir: join(options.dataDir, 's3') } : {};
  const server = await onLoopbackOnly(() => startFauxqs({ port: options.port ?? 4566, host: '127.0.0.1', logger: false, ...persistence }));
  const endpoint = `http://127.0.0.1:${server.port}`;
  const settings = { region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient(settings);
  const s3 = new S3Client({ ...settings, forcePathStyle: true });
  // Create by name (idempotent: a restart finds the queues of its data directory), then set the
  // attributes, so a restart with other tuning updates them instead of failing on a conflict.
  const queue = async (name: string, attributes: Record<string, string>) => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
    return QueueUrl!;
  };
  try {
    const dlqUrl = await queue(LOCAL_NAMES.dlq, { MessageRetentionPeriod: String(TUNING.dlqRetentionSeconds) });
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    const queueUrl = await queue(LOCAL_NAMES.queue, {
      VisibilityTimeout: String(options.visibilityTimeoutS ?? TUNING.visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlqArn,
        maxReceiveCount: options.maxReceiveCount ?? TUNING.maxReceiveCount,
      }),
    });
    await s3.send(new CreateBucketCommand({ Bucket: LOCAL_NAMES.bucket }));
    const released =
      (await releaseInFlight(server, sqs, LOCAL_NAMES.queue, queueUrl)) + (await releaseInFlight(server, sqs, LOCAL_NAMES.dlq, dlqUrl));
    return {
      endpoint,
      port: server.port,
      queueUrl,
      dlqUrl,
      bucket: LOCAL_NAMES.bucket,
      server,
      released,
      stop: () => server.stop(),
    };
  } catch (error) {
    await server.stop();
    throw error;
  } finally {
    sqs.destroy();
    s3.destroy();
  }
}

/**
 * Messages restored in flight were received by a worker of a process that is gone (this emulator
 * has just started, so no worker of ours holds them): make them visible now rather than after the
 * rest of their visibility timeout. Their receive count stays, as for any failed delivery.
 * One second, not zero: fauxqs 2.4 with a data directory fails a change to 0 (it writes a NULL
 * receive count) after it has already taken the message out of flight, and the message is lost
 * until the next restart.
 */
async function releaseInFlight(server: FauxqsServer, sqs: SQSClient, name: string, queueUrl: string): Promise<number> {
  const handles = (server.inspectQueue(name)?.messages.inflight ?? []).map((m) => m.receiptHandle);
  for (let i = 0; i < handles.length; i += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: handles.slice(i, i + 10).map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle, VisibilityTimeout: 1 })),
      }),
    );
  }
  return handles.length;
}

/**
 * fauxqs 2.x listens on 0.0.0.0 whatever `host` it is given (its `host` only names the queue URLs),
 * and the emulator has no authentication and holds the service's data: while it starts, a listen
 * on every interface is narrowed to the loopback address.
 */
async function onLoopbackOnly<T>(start: () => Promise<T>): Promise<T> {
  const listen = Server.prototype.listen;
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    const first = args[0] as { host?: string } | undefined;
    if (first && typeof first === 'object' && (first.host === '0.0.0.0' || first.host === '::')) args[0] = { ...first, host: '127.0.0.1' };
    return (listen as (...a: unknown[]) => Server).apply(this, args);
  } as typeof listen;
  try {
    return await start();
  } finally {
    Server.prototype.listen = listen;
  }
}
