// The embedded SQS+S3 emulator (fauxqs) on 127.0.0.1, with the queues and bucket of the template:
// same redrive policy, visibility timeout and DLQ retention, read from the same tuning.
// In memory by default (tests, the CLI's in-process mode); with a data directory (`npm start`) every
// change is written through to disk: queues and messages in SQLite (<dir>/sqs/fauxqs.db), objects
// as plain files (<dir>/s3/buckets/<bucket>/objects/<key>.data), so a crash loses nothing.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Server } from 'node:net';
import { tmpdir } from 'node:os';
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
import { type EmulatorCredentials, startEmulatorFront } from './emulator-front.js';

export const LOCAL_REGION = 'us-east-1';
/**
 * The credentials of this run: the emulator's front (local/emulator-front.ts) answers only requests
 * signed with this secret, random per process unless a parent stack handed it down in
 * URL2PNG_EMULATOR_SECRET (the worker's process, tools run by a test).
 */
const LOCAL_CREDENTIALS: EmulatorCredentials = {
  accessKeyId: 'local',
  secretAccessKey: process.env.URL2PNG_EMULATOR_SECRET || randomBytes(32).toString('base64url'),
};
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
  /** The secret requests must be signed with (default: LOCAL_CREDENTIALS of this process). */
  credentials?: EmulatorCredentials;
  /** Other loopback `host:port`s that forward to it and that it answers too (a test's cuttable link). */
  extraHosts?: string[];
}

export interface Emulator {
  endpoint: string;
  port: number;
  queueUrl: string;
  dlqUrl: string;
  bucket: string;
  /** What its clients sign with. */
  credentials: EmulatorCredentials;
  server: FauxqsServer;
  /** Messages that were in flight in the data directory when the emulator started, made visible again. */
  released: number;
  stop(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const persistence = options.dataDir ? { dataDir: join(options.dataDir, 'sqs'), s3StorageDir: join(options.dataDir, 's3') } : {};
  const credentials = options.credentials ?? LOCAL_CREDENTIALS;
  // fauxqs answers on a Unix socket in a directory only this user can enter; the front, on the
  // TCP port, is the only way in.
  const socketDir = mkdtempSync(join(tmpdir(), 'url2png-emulator-'));
  const socketPath = join(socketDir, 'fauxqs.sock');
  const front = await startEmulatorFront({ port: options.port ?? 4566, socketPath, credentials, extraHosts: options.extraHosts });
  let server: FauxqsServer;
  try {
    server = await behindFront(socketPath, front.port, () =>
      startFauxqs({ port: front.port, host: '127.0.0.1', logger: false, ...persistence }),
    );
  } catch (error) {
    await front.close();
    rmSync(socketDir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    await front.close();
    await server.stop();
    rmSync(socketDir, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${front.port}`;
  const settings = { region: LOCAL_REGION, endpoint, credentials };
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
      port: front.port,
      queueUrl,
      dlqUrl,
      bucket: LOCAL_NAMES.bucket,
      credentials,
      server,
      released,
      stop,
    };
  } catch (error) {
    await stop();
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
 * fauxqs 2.x listens on 0.0.0.0 whatever `host` it is given (its `host` only names the queue URLs)
 * and has no authentication: while it starts, its listen goes to the Unix socket `socketPath`
 * instead, and its server says it listens on the front's port, so that fauxqs names its queue
 * URLs after the front.
 */
async function behindFront<T>(socketPath: string, frontPort: number, start: () => Promise<T>): Promise<T> {
  const listen = Server.prototype.listen;
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    const first = args[0] as { port?: number; host?: string } | undefined;
    if (first && typeof first === 'object' && first.port === frontPort) {
      const { port: _port, host: _host, ...rest } = first;
      args[0] = { ...rest, path: socketPath };
      this.address = () => ({ address: '127.0.0.1', family: 'IPv4', port: frontPort });
    }
    return (listen as (...a: unknown[]) => Server).apply(this, args);
  } as typeof listen;
  try {
    return await start();
  } finally {
    Server.prototype.listen = listen;
  }
}
