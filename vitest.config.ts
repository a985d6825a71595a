import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests open real sockets and spawn servers; two cores means two forks at a time.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './test/reporters/summary-line.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: ['test/timing/**'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Latency assertions: run after everything else, one file at a time, so no other test shares the CPU.
        extends: true,
        test: {
          name: 'timing',
          include: ['test/timing/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          fileParallelism: false,
        },
      },
    ],
  },
});
