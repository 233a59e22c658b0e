// SQS: sending jobs (and, for the redrive, moving them between queues).
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { encodeJob, type Job } from './job.js';

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
