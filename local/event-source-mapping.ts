// Lambda's SQS event source mapping, locally: long-poll the queue, hand Lambda-shaped batches to
// the worker, delete what succeeded, leave batchItemFailures to come back when their visibility
// ends (the worker shortens it per failed record with ChangeMessageVisibility, which the emulator
// honours as SQS does). If the invocation itself fails (the worker process died), this mapping
// knows which messages that process held and brings them back after the short retry backoff
// instead of the visibility timeout. The emulator's redrive policy moves what keeps failing to
// the DLQ, as SQS does.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

type BatchInvoker = (event: SQSEvent) => Promise<SQSBatchResponse | undefined>;

export interface MappingOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  batchSize: number;
  batchingWindowS: number;
  /** Invocations in flight at once (Lambda's maximumConcurrency, scaled to this machine). */
  concurrency: number;
  /**
   * Records held at once by the invocations in flight (default: concurrency x batchSize). Set lower,
   * many small batches may run at once (the first receives of a burst return a record or two
   * each, and a poller holding one record would otherwise block a whole batch's place) while
   * the records in hand never pass this.
   */
  maxRecordsInFlight?: number;
  invoke: BatchInvoker;
  /** Seconds until a message of a failed invocation comes back, by its receive count. */
  retryDelayS?: (receiveCount: number) => number;
  onError?: (error: unknown) => void;
}

export interface EventSourceMapping {
  /** Resolves when every poller has finished its current batch. */
  stop(): Promise<void>;
  readonly invocations: number;
}

export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, v]) => [
        name,
        { stringValue: v.StringValue, dataType: v.DataType ?? 'String', stringListValues: [], binaryListValues: [] },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export function startEventSourceMapping(options: MappingOptions): EventSourceMapping {
  const abort = new AbortController();
  let invocations = 0;
  const maxRecords = options.maxRecordsInFlight ?? options.concurrency * options.batchSize;
  // Records reserved by the pollers: asked for in a receive, or held by an invocation.
  let reserved = 0;
  const wake: Array<() => void> = [];
  const release = (n: number) => {
    reserved -= n;
    for (const w of wake.splice(0)) w();
  };
  abort.signal.addEventListener('abort', () => release(0));
  /** Waits for room and reserves up to a batch of it; 0 once stopped. */
  async function reserve(): Promise<number> {
    while (reserved >= maxRecords && !abort.signal.aborted) await new Promise<void>((r) => wake.push(r));
    if (abort.signal.aborted) return 0;
    const n = Math.min(options.batchSize, maxRecords - reserved);
    reserved += n;
    return n;
  }
  const pollers = Array.from({ length: options.concurrency }, () => poll());

  async function receiveBatch(max: number): Promise<Message[]> {
    const messages: Message[] = [];
    const windowEnds = Date.now() + options.batchingWindowS * 1000;
    do {
      const out = await options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: options.queueUrl,
          MaxNumberOfMessages: max - messages.length,
          // Long poll while empty; once something is in hand, only wait out the batching window.
          WaitTimeSeconds: messages.length ? 0 : 20,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: abort.signal },
      );
      messages.push(...(out.Messages ?? []));
    } while (messages.length > 0 && messages.length < max && Date.now() < windowEnds);
    return messages;
  }

  async function retrySoon(records: SQSRecord[]): Promise<void> {
    if (!options.retryDelayS) return;
    const delay = options.retryDelayS;
    try {
      await options.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: records.map((r, i) => ({
            Id: String(i),
            ReceiptHandle: r.receiptHandle,
            VisibilityTimeout: delay(Number(r.attributes.ApproximateReceiveCount) || 1),
          })),
        }),
      );
    } catch (error) {
      options.onError?.(error); // they still come back, after the visibility timeout
    }
  }

  async function poll(): Promise<void> {
    while (!abort.signal.aborted) {
      const room = await reserve();
      if (room === 0) return;
      let messages: Message[];
      try {
        messages = await receiveBatch(room);
      } catch (error) {
        release(room);
        if (abort.signal.aborted) return;
        options.onError?.(error);
        await sleep(500);
        continue;
      }
      release(room - messages.length); // room a short batch did not use goes to the other pollers at once
      if (messages.length === 0) continue;
      try {
        await invokeAndDelete(messages.map((m) => toSqsRecord(m, options.queueArn, options.region)));
      } finally {
        release(messages.length);
      }
    }
  }

  async function invokeAndDelete(records: SQSRecord[]): Promise<void> {
    invocations++;
    let failed: Set<string>;
    try {
      const response = await options.invoke({ Records: records });
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      // A failed invocation deletes nothing: the whole batch comes back, after the backoff.
      options.onError?.(error);
      await retrySoon(records);
      return;
    }
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length === 0) return;
    try {
      await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      );
    } catch (error) {
      options.onError?.(error); // undeleted messages are redelivered; the worker is idempotent
    }
  }

  return {
    get invocations() {
      return invocations;
    },
    async stop() {
      abort.abort();
      await Promise.allSettled(pollers);
    },
  };
}
