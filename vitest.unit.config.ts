// `npm run test:unit`: the tests that need no Chromium, no emulator and no packaging, in seconds.
// No global setup (it extracts Chromium). A new test belongs in this list only if it starts none of those.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/reliability/settle.test.ts', 'tests/security/policy.test.ts'],
    testTimeout: 10_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
