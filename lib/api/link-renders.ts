// What GET /render does with a verified link's request: the cached image when there is a fresh
// one, else the job that is already rendering it (one job per request, however many times the
// link is fetched meanwhile), else a new job; then it waits for that job as a synchronous POST does.
import { cacheTtlSeconds, type ScreenshotRequest } from '../contract/request.js';
import type { ScreenshotStatus } from '../contract/status.js';
import { readJson, writeJson } from '../storage/s3-json.js';
import { type ApiDeps, findCacheEntry, readScreenshot, requestCacheKey, submitScreenshot } from './screenshots.js';
import { waitForSettled } from './sync-wait.js';

/** SigV4's longest presigned URL (AWS: "Sharing objects with presigned URLs"), and how long images are kept. */
const LINK_IMAGE_URL_SECONDS = 7 * 24 * 3600;
/** The bytes under one job's image key never change: any cache may keep them for a year. */
export const LINK_IMAGE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** A job older than this is not waited for again: it is re-submitted (it was lost, or dead-lettered). */
const PENDING_MAX_AGE_MS = 10 * 60 * 1000;

/**
 * How long a redirect to the image may be reused: while the image is fresh and the link valid, an
 * hour at most (the target is signed with the API's credentials, which rotate).
 */
export function redirectMaxAge(freshForSeconds: number, linkExpires: number, nowMs = Date.now()): number {
  return Math.max(0, Math.min(freshForSeconds, linkExpires - Math.floor(nowMs / 1000), 3600));
}

type LinkDeps = ApiDeps & { s3: import('@aws-sdk/client-s3').S3Client; bucket: string };

export type LinkRender =
  | { kind: 'image'; imageUrl: string; freshForSeconds: number; cached: boolean }
  | { kind: 'failed'; status: ScreenshotStatus }
  | { kind: 'pending'; id: string };

interface PendingRender {
  id: string;
  requestedAt: string;
}
const pendingKey = (cacheKey: string) => `cache/pending/${cacheKey}.json`;

/**
 * The image URL a link redirects to: signed as of the render (so every fetch of the link gets the
 * same URL while the API's credentials last, and browsers and CDNs can cache it), answered by S3
 * with a long-lived Cache-Control.
 */
function linkImageUrl(deps: LinkDeps, imageKey: string, renderedAt: string): Promise<string> {
  return deps.store.presignImage(imageKey, LINK_IMAGE_URL_SECONDS, {
    signingDate: new Date(renderedAt),
    cacheControl: LINK_IMAGE_CACHE_CONTROL,
  });
}

export async function renderForLink(
  request: ScreenshotRequest,
  deps: LinkDeps,
  waitMs: number,
  remainingMs: () => number,
  now = new Date(),
): Promise<LinkRender> {
  const ttlSeconds = cacheTtlSeconds(request.cache);
  const cached = await findCacheEntry(request, deps, now);
  if (cached) {
    const age = (now.getTime() - Date.parse(cached.entry.renderedAt)) / 1000;
    return {
      kind: 'image',
      imageUrl: await linkImageUrl(deps, cached.entry.imageKey, cached.entry.renderedAt),
      freshForSeconds: Math.max(0, Math.floor(ttlSeconds - age)),
      cached: true,
    };
  }
  const key = pendingKey(requestCacheKey(request));
  const pending = await readJson<PendingRender>(deps.s3, deps.bucket, key);
  let id: string | undefined;
  if (pending && now.getTime() - Date.parse(pending.requestedAt) < PENDING_MAX_AGE_MS) {
    const status = await deps.store.getStatus(pending.id);
    if (status?.status === 'queued') id = pending.id;
  }
  if (!id) {
    const job = await submitScreenshot(request, deps);
    id = job.id;
    await writeJson(deps.s3, deps.bucket, key, { id, requestedAt: job.requestedAt } satisfies PendingRender, 'no-store');
  }
  const status = await waitForSettled(id, deps, waitMs, remainingMs);
  if (status?.status === 'failed') return { kind: 'failed', status };
  if (status?.status !== 'done') return { kind: 'pending', id };
  // The cache entry's time when the worker has written it, so that later hits redirect to the same URL.
  const entry = (await findCacheEntry(request, deps))?.entry;
  const record = await deps.store.getStatus(id);
  if (!record?.imageKey) return { kind: 'failed', status: (await readScreenshot(id, deps)) ?? status };
  return {
    kind: 'image',
    imageUrl: await linkImageUrl(deps, record.imageKey, entry?.id === id ? entry.renderedAt : record.updatedAt),
    freshForSeconds: ttlSeconds,
    cached: false,
  };
}
