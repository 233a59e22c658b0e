import { describe, expect, it } from 'vitest';
import { parseConfig, renderConcurrency } from '../../lib/contract/config.js';

describe('render concurrency follows the CPU the function has', () => {
  it.each([
    [undefined, 2, 4], // this machine: 2 cores -> 4 pages (bench: best of 2/3/4)
    [undefined, 1, 2],
    [2048, 99, 3], // Lambda 2048 MB = 1.16 vCPU, whatever the host has
    [1024, 99, 2], // never fewer than 2: one page's network wait overlaps another's render
    [10240, 99, 8], // capped
  ])('memory %s MB, %s cpus -> %s pages', (memory, cpus, pages) => {
    expect(renderConcurrency(memory, cpus)).toBe(pages);
  });

  it('an explicit URL2PNG_RENDER_CONCURRENCY wins', () => {
    expect(parseConfig({ URL2PNG_RENDER_CONCURRENCY: '5', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048' }).renderConcurrency).toBe(5);
    expect(parseConfig({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048' }).renderConcurrency).toBe(3);
  });
});

describe('a browser that dies while it starts', () => {
  it('is started once more; other launch errors are not retried', async () => {
    const { launchWithOneRetry } = await import('../../lib/capture/browser.js');
    let calls = 0;
    const flaky = () =>
      ++calls === 1 ? Promise.reject(new Error('Protocol error (Target.setDiscoverTargets): Target closed')) : Promise.resolve('browser');
    await expect(launchWithOneRetry(flaky)).resolves.toBe('browser');
    expect(calls).toBe(2);
    calls = 0;
    const broken = () => {
      calls++;
      return Promise.reject(new Error('spawn ENOENT'));
    };
    await expect(launchWithOneRetry(broken)).rejects.toThrow('spawn ENOENT');
    expect(calls).toBe(1);
  });
});
