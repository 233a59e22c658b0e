// S3: images, status records and the presigned URLs that hand images out. The bucket is private;
// nothing here makes an object public.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ExtractsDocument } from '../contract/findings.js';
import { extractsKey, imageKey, statusKey } from '../contract/job.js';
import { readJson, writeJson } from './s3-json.js';
import { uploadObject } from './upload.js';
import type { StatusRecord } from '../contract/status.js';

export interface ScreenshotStore {
  putImage(id: string, bytes: Uint8Array, contentType: string, extension: string): Promise<string>;
  putStatus(record: StatusRecord): Promise<void>;
  /** `extract`'s document (extracts/<id>.json); answers its key, which presignImage hands out like an image's. */
  putExtracts(id: string, document: ExtractsDocument): Promise<string>;
  getStatus(id: string): Promise<StatusRecord | undefined>;
  presignImage(key: string, ttlSeconds: number, options?: PresignOptions): Promise<string>;
}

export interface PresignOptions {
  /** Sign as of this time (a fixed date gives the same URL on every call with the same credentials). */
  signingDate?: Date;
  /** The Cache-Control S3 answers with (response-cache-control, part of the signed URL). */
  cacheControl?: string;
}

export class S3ScreenshotStore implements ScreenshotStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async putImage(id: string, bytes: Uint8Array, contentType: string, extension: string): Promise<string> {
    const key = imageKey(id, extension);
    await uploadObject(this.s3, {
      Bucket: this.bucket,
      Key: key,
      Body: bytes,
      ContentType: contentType,
      CacheControl: 'private, max-age=31536000, immutable',
    });
    return key;
  }

  putStatus(record: StatusRecord): Promise<void> {
    return writeJson(this.s3, this.bucket, statusKey(record.id), record, 'no-store');
  }

  async putExtracts(id: string, document: ExtractsDocument): Promise<string> {
    const key = extractsKey(id);
    // Written once per job and never changed: a client may keep it as long as the URL is valid.
    await writeJson(this.s3, this.bucket, key, document, 'private, max-age=31536000, immutable');
    return key;
  }

  getStatus(id: string): Promise<StatusRecord | undefined> {
    return readJson<StatusRecord>(this.s3, this.bucket, statusKey(id));
  }

  presignImage(key: string, ttlSeconds: number, options: PresignOptions = {}): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key, ResponseCacheControl: options.cacheControl }), {
      expiresIn: ttlSeconds,
      signingDate: options.signingDate,
    });
  }
}
