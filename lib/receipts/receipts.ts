// Receipts in the bucket: the worker signs one for every done job (before its status says done,
// so a done job always has one) and the API hands it out at GET /screenshots/{id}/receipt.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Job } from '../contract/job.js';
import { buildReceipt, signReceipt, type CaptureFacts, type Receipt } from './receipt.js';
import type { ReceiptKey } from './receipt-key.js';
import { readJson, writeJson } from '../storage/s3-json.js';

const receiptObjectKey = (id: string): string => `receipts/${id}.json`;

export class S3Receipts {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  get(id: string): Promise<Receipt | undefined> {
    return readJson<Receipt>(this.s3, this.bucket, receiptObjectKey(id));
  }

  /** Signs what the capture observed and stores it under the job's id (a redelivery overwrites it). */
  async issue(
    job: Job,
    image: { bytes: Uint8Array; contentType: string; facts: CaptureFacts },
    key: () => Promise<ReceiptKey>,
  ): Promise<Receipt> {
    const receipt = signReceipt(buildReceipt(job, image, image.facts), await key());
    await writeJson(this.s3, this.bucket, receiptObjectKey(job.id), receipt, 'private, max-age=31536000, immutable');
    return receipt;
  }
}
