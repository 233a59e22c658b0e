// One screenshot through the HTTP API of the local stack: POST, poll, download the image.
import { expect } from 'vitest';
import { postScreenshot, waitForSettled } from '../support/stack.js';
import type { ScreenshotStatus } from '../../lib/contract/status.js';

export interface Shot {
  status: ScreenshotStatus;
  bytes: Uint8Array;
  contentType: string | null;
  cacheControl: string | null;
  imageUrl: string;
}

export async function shoot(apiUrl: string, body: Record<string, unknown>): Promise<Shot> {
  const { res, json } = await postScreenshot(apiUrl, body);
  expect(res.status, JSON.stringify(json)).toBe(202);
  const status = await waitForSettled(String(json.statusUrl), 60_000);
  expect(status.status, JSON.stringify(status)).toBe('done');
  const image = await fetch(status.imageUrl!);
  expect(image.status).toBe(200);
  return {
    status,
    bytes: new Uint8Array(await image.arrayBuffer()),
    contentType: image.headers.get('content-type'),
    cacheControl: image.headers.get('cache-control'),
    imageUrl: status.imageUrl!,
  };
}

/** POSTs and waits for a settled job that is expected to fail. */
export async function shootFailing(apiUrl: string, body: Record<string, unknown>): Promise<ScreenshotStatus> {
  const { res, json } = await postScreenshot(apiUrl, body);
  expect(res.status, JSON.stringify(json)).toBe(202);
  return waitForSettled(String(json.statusUrl), 60_000);
}
