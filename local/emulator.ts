// The embedded SQS+S3 emulator (fauxqs) on 127.0.0.1, with the queues and bucket of the template:
// same redrive policy, visibility timeout and DLQ retention, read from the same tuning.
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { TUNING } from '../lib/tuning.js';

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
}

export interface Emulator {
  endpoint: string;
  port: number;
  queueUrl: string;
  dlqUrl: string;
  bucket: string;
  server: FauxqsServer;
  stop(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const server = await startFauxqs({ port: options.port ?? 4566, host: '127.0.0.1', logger: false });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const settings = { region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient(settings);
  const s3 = new S3Client({ ...settings, forcePathStyle: true });
  try {
    const dlq = await sqs.send(
      new CreateQueueCommand({
        QueueName: LOCAL_NAMES.dlq,
        Attributes: { MessageRetentionPeriod: String(TUNING.dlqRetentionSeconds) },
      }),
    );
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: LOCAL_NAMES.queue,
        Attributes: {
          VisibilityTimeout: String(options.visibilityTimeoutS ?? TUNING.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn,
            maxReceiveCount: options.maxReceiveCount ?? TUNING.maxReceiveCount,
          }),
        },
      }),
    );
    await s3.send(new CreateBucketCommand({ Bucket: LOCAL_NAMES.bucket }));
    return {
      endpoint,
      port: server.port,
      queueUrl: queue.QueueUrl!,
      dlqUrl: dlq.QueueUrl!,
      bucket: LOCAL_NAMES.bucket,
      server,
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
