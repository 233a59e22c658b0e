import { describe, expect, it } from 'vitest';
import { retryDelaySeconds } from '../../lib/worker/retry.js';
import { TUNING } from '../../lib/contract/tuning.js';

describe('retry backoff', () => {
  const defaults = {
    baseS: TUNING.retryBackoffSeconds,
    maxS: TUNING.retryBackoffMaxSeconds,
    visibilityTimeoutS: TUNING.visibilityTimeoutSeconds,
  };

  it('5 s, 15 s, 45 s, then capped at 120 s with the defaults', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => retryDelaySeconds(n, defaults))).toEqual([5, 15, 45, 120, 120, 120]);
  });

  it('never longer than the visibility timeout (short test tunings keep their timing)', () => {
    expect(retryDelaySeconds(1, { ...defaults, visibilityTimeoutS: 3 })).toBe(3);
    expect(retryDelaySeconds(3, { ...defaults, visibilityTimeoutS: 0 })).toBe(0);
  });

  it('the visibility timeout itself stays >= 6 x the function timeout (in-flight records)', () => {
    expect(TUNING.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * TUNING.workerTimeoutSeconds);
    expect(TUNING.retryBackoffMaxSeconds).toBeLessThan(TUNING.visibilityTimeoutSeconds);
  });
});
