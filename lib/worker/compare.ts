// The worker's compareTo step: fetch the earlier job's image, diff the new one against it
// (lib/worker/diff.ts), store the diff image beside the images and answer the numbers for the status.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { diffPngs, type PixelDiff } from './diff.js';
import { PermanentFailure, TransientFailure } from '../contract/failures.js';
import type { Job } from '../contract/job.js';
import type { DiffRecord } from '../contract/status.js';
import { isMissingKey } from '../storage/s3-json.js';
import { uploadObject } from '../storage/upload.js';
import type { ScreenshotStore } from '../storage/store.js';

const diffImageKey = (id: string): string => `diffs/${id}.png`;

export class ImageComparer {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly store: Pick<ScreenshotStore, 'getStatus'>,
  ) {}

  /** undefined when the job asked for no comparison. */
  async compare(job: Job, image: { bytes: Uint8Array; contentType: string }): Promise<DiffRecord | undefined> {
    const earlierId = job.options.compareTo;
    if (!earlierId) return undefined;
    const earlier = await this.store.getStatus(earlierId);
    const which = `compareTo ${earlierId}`;
    if (!earlier) throw new PermanentFailure('compare_unavailable', `${which}: no screenshot with that id (unknown, or expired)`);
    if (earlier.status === 'failed') {
      throw new PermanentFailure(
        'compare_unavailable',
        `${which}: that screenshot failed (${earlier.error?.code ?? 'unknown'}); compare with a done one`,
      );
    }
    if (earlier.status !== 'done' || !earlier.imageKey) {
      throw new TransientFailure('compare_not_ready', `${which}: that screenshot is still ${earlier.status}; retried once it may be done`);
    }
    if (earlier.contentType !== 'image/png' || image.contentType !== 'image/png') {
      throw new PermanentFailure(
        'compare_unavailable',
        `${which}: that screenshot is ${earlier.contentType}; compareTo compares PNG images only`,
      );
    }
    let previous: Uint8Array;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: earlier.imageKey }));
      previous = await out.Body!.transformToByteArray();
    } catch (error) {
      // Its image expired before its status did: no retry brings it back (403 or 404, lib/storage/s3-json.ts).
      if (isMissingKey(error)) throw new PermanentFailure('compare_unavailable', `${which}: that screenshot's image has expired`);
      throw error;
    }
    let diff: PixelDiff;
    try {
      diff = await diffPngs(image.bytes, previous);
    } catch (error) {
      throw new PermanentFailure(
        error instanceof RangeError ? 'compare_too_large' : 'compare_unavailable',
        `${which}: ${(error as Error).message}`,
      );
    }
    const { diffPng, ...numbers } = diff;
    const key = diffImageKey(job.id);
    await uploadObject(this.s3, {
      Bucket: this.bucket,
      Key: key,
      Body: diffPng,
      ContentType: 'image/png',
      CacheControl: 'private, max-age=31536000, immutable',
    });
    return { comparedTo: earlierId, ...numbers, diffImageKey: key };
  }
}
