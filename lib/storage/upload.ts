// Writing an image (or a diff image) to the bucket: in parts when it is large. A full-page PNG of
// photo-like content reaches tens of MB within the pixel budget; lib-storage's Upload sends a body
// under one part size as a single PutObject and anything larger as a multipart upload (Amazon S3
// User Guide, "Uploading and copying objects using multipart upload"), part by part, so no request
// carries the whole image (the local emulator refuses request bodies over 11 MiB) and a failed
// part is retried alone. On failure it aborts the upload (s3:AbortMultipartUpload, granted in
// serverless.yml) so no parts are left billed.
import type { PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PermanentFailure } from '../contract/failures.js';

/** 8 MiB: over S3's 5 MiB minimum part size, under the emulator's 11 MiB request limit. */
const PART_SIZE_BYTES = 8 * 1024 * 1024;

type ObjectInput = Required<Pick<PutObjectCommandInput, 'Bucket' | 'Key' | 'ContentType'>> &
  Pick<PutObjectCommandInput, 'CacheControl'> & { Body: Uint8Array };

export async function uploadObject(s3: S3Client, input: ObjectInput, partSize = PART_SIZE_BYTES): Promise<void> {
  try {
    await new Upload({ client: s3, params: input, partSize, queueSize: 2 }).done();
  } catch (error) {
    // The store refusing the object for its size (S3: 400 EntityTooLarge; a proxy or the emulator:
    // 413) answers the same on every delivery: failing the job beats retrying it into the DLQ.
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'EntityTooLarge' || e.$metadata?.httpStatusCode === 413) {
      throw new PermanentFailure(
        'page_too_large',
        `the image (${(input.Body.byteLength / 1048576).toFixed(1)} MB) is larger than the store accepts; ask for a smaller page or format jpeg or webp`,
      );
    }
    throw error;
  }
}
