// SQS: sending jobs (and, for the redrive, moving them between queues).
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { encodeJob, type Job } from '../contract/job.js';

/**
 * SQS's limit for one message, body and attributes together: 262,144 bytes (Amazon SQS Developer
 * Guide, "Amazon SQS message quotas": message size). A larger SendMessage is refused by SQS, after
 * the job's `queued` status would already have been written: lib/api/ refuses it first.
 */
const MAX_MESSAGE_BYTES = 262_144;
/** Kept free for the redrive's message attribute and an html job's document key. */
const MESSAGE_ROOM_BYTES = 1024;

/** Why the job's message would not fit in one SQS message, or undefined when it fits. */
export function oversizedMessage(job: Job): string | undefined {
  const bytes = Buffer.byteLength(encodeJob(job));
  if (bytes + MESSAGE_ROOM_BYTES <= MAX_MESSAGE_BYTES) return undefined;
  return `the job's options take ${bytes} bytes as a queue message, over the ${MAX_MESSAGE_BYTES - MESSAGE_ROOM_BYTES} bytes one message holds; send fewer or shorter headers, cookies, styles or scripts`;
}

export interface JobQueue {
  send(job: Job): Promise<void>;
}

export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(job: Job): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: encodeJob(job) }));
  }
}

/** Message attribute counting how often lib/worker/redrive.ts moved a job back from the DLQ. */
const REDRIVE_ATTRIBUTE = 'url2png-redrives';

export interface DeadLetter {
  body: string;
  receiptHandle: string;
  /** Times this job was already moved back from the DLQ (0 if never). */
  redrives: number;
}

/** The DLQ and the jobs queue as the redrive sees them. */
export interface RedriveQueues {
  receiveDeadLetters(max: number): Promise<DeadLetter[]>;
  /** Puts the body back on the jobs queue with its redrive counter. */
  requeue(body: string, redrives: number): Promise<void>;
  deleteDeadLetter(receiptHandle: string): Promise<void>;
  deadLetterDepth(): Promise<number>;
}

export class SqsRedriveQueues implements RedriveQueues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly dlqUrl: string,
    /** How long a received dead letter stays hidden while it is being moved. */
    private readonly visibilityTimeoutS = 60,
  ) {}

  async receiveDeadLetters(max: number): Promise<DeadLetter[]> {
    const out = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.dlqUrl,
        MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
        WaitTimeSeconds: 0,
        VisibilityTimeout: this.visibilityTimeoutS,
        MessageAttributeNames: [REDRIVE_ATTRIBUTE],
      }),
    );
    return (out.Messages ?? []).map((m) => ({
      body: m.Body ?? '',
      receiptHandle: m.ReceiptHandle!,
      redrives: Number(m.MessageAttributes?.[REDRIVE_ATTRIBUTE]?.StringValue ?? '0') || 0,
    }));
  }

  async requeue(body: string, redrives: number): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        MessageAttributes: { [REDRIVE_ATTRIBUTE]: { DataType: 'Number', StringValue: String(redrives) } },
      }),
    );
  }

  async deleteDeadLetter(receiptHandle: string): Promise<void> {
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.dlqUrl, ReceiptHandle: receiptHandle }));
  }

  async deadLetterDepth(): Promise<number> {
    const out = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: this.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return Number(out.Attributes?.ApproximateNumberOfMessages ?? '0');
  }
}
