// Small JSON documents in the bucket (status records, the cache index): read one, or nothing when
// it does not exist; write one with the Cache-Control its readers need.
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * Whether a GetObject failed because the key does not exist. S3 answers a missing key with
 * 404 NoSuchKey only to a caller allowed s3:ListBucket on the bucket; to any other caller it
 * answers 403 AccessDenied, so as not to reveal which keys exist (Amazon S3 API Reference,
 * GetObject, "Permissions": "If you don't have the s3:ListBucket permission, Amazon S3 returns an
 * HTTP status code 403 Access Denied error"). The function roles are deliberately not granted
 * s3:ListBucket: a listing of status/ would hand out every job id, and an id is what lets anyone
 * read a screenshot (GET /screenshots/{id}). So every read of a key that may be missing (an
 * unknown or expired id, a cache miss, the batch webhook's marker, an expired html input) treats
 * AccessDenied as missing too. A role that lacks s3:GetObject on a prefix would read as "missing"
 * here as well: tests/security/iam-calls.test.ts checks every call the handlers make against the
 * packaged roles, so that mistake fails there rather than hiding here.
 */
export function isMissingKey(error: unknown): boolean {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  if (error instanceof NoSuchKey || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return true;
  return e.name === 'AccessDenied' || e.Code === 'AccessDenied' || e.$metadata?.httpStatusCode === 403;
}

export async function readJson<T>(s3: S3Client, bucket: string, key: string): Promise<T | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await out.Body!.transformToString()) as T;
  } catch (error) {
    if (isMissingKey(error)) return undefined;
    throw error;
  }
}

export async function writeJson(s3: S3Client, bucket: string, key: string, value: unknown, cacheControl: string): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(value),
      ContentType: 'application/json',
      CacheControl: cacheControl,
    }),
  );
}
