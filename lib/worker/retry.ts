// SQS visibility backoff (not a retry loop: nothing here calls anything again). How soon a
// transient failure is delivered again. SQS would bring a failed record back only after
// the queue's visibility timeout (400 s: it must stay >= 6 x the function timeout for records in
// flight), so the worker shortens it for the record that failed (ChangeMessageVisibility):
// base, 3 x base, 9 x base ... seconds (5, 15, 45, 120 by default), capped, and never longer
// than the visibility timeout itself.
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';

interface RetryTuning {
  /** Wait before the second receive, in seconds. */
  baseS: number;
  /** No wait is longer than this. */
  maxS: number;
  /** The queue's visibility timeout: a backoff never lengthens it. */
  visibilityTimeoutS: number;
}

/** Seconds until the next receive of a record that failed on receive number `receiveCount` (1-based). */
export function retryDelaySeconds(receiveCount: number, t: RetryTuning): number {
  const wait = t.baseS * 3 ** Math.max(0, receiveCount - 1);
  return Math.max(0, Math.min(Math.round(wait), t.maxS, t.visibilityTimeoutS));
}

/** Makes a received message visible again after `seconds` (its receipt handle must be current). */
export async function retryAfter(sqs: SQSClient, queueUrl: string, receiptHandle: string, seconds: number): Promise<void> {
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
}
