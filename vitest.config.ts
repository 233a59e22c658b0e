import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: each integration file runs its own Chromium; more at once only thrashes.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
