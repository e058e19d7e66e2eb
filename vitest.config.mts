import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    // Bounds for a machine ten times slower than ours, not expectations: every test waits on a condition
    // and ends as soon as it holds. Timing belongs to `npm run bench`.
    testTimeout: 600_000,
    hookTimeout: 900_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
