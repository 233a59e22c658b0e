// An html request's document: too large for a queue message (SQS takes 256 KB, html may be 1 MB),
// so the API stores it in the bucket under inputs/<job id>.html and the job carries the key; the
// worker reads it back when it renders. The bucket's lifecycle removes it with the job's images.
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PermanentFailure } from '../contract/failures.js';
import { isMissingKey } from '../storage/s3-json.js';

export interface HtmlInputRef {
  key: string;
  /** sha256 of the document (hex): the cache key's stand-in for a URL. */
  sha256: string;
}

export interface HtmlInputs {
  put(jobId: string, html: string): Promise<HtmlInputRef>;
  get(ref: HtmlInputRef): Promise<string>;
}

/** The address an html job reports and renders at: the document has no URL of its own. */
export const HTML_JOB_URL = 'about:blank';

const htmlInputKey = (jobId: string): string => `inputs/${jobId}.html`;
export const htmlDigest = (html: string): string => createHash('sha256').update(html).digest('hex');

export class S3HtmlInputs implements HtmlInputs {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(jobId: string, html: string): Promise<HtmlInputRef> {
    const key = htmlInputKey(jobId);
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: html, ContentType: 'text/html; charset=utf-8' }));
    return { key, sha256: htmlDigest(html) };
  }

  async get(ref: HtmlInputRef): Promise<string> {
    let html: string;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: ref.key }));
      html = await out.Body!.transformToString('utf8');
    } catch (error) {
      // Gone (expired, deleted): no retry brings it back. On AWS a missing key reads as 403
      // AccessDenied to these roles (no s3:ListBucket; lib/storage/s3-json.ts).
      if (isMissingKey(error)) throw new PermanentFailure('invalid_job', `the job's html document ${ref.key} no longer exists`);
      throw error;
    }
    if (htmlDigest(html) !== ref.sha256)
      throw new PermanentFailure('invalid_job', `the job's html document ${ref.key} does not match its digest`);
    return html;
  }
}
