import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // A protocol's tests live in its folder (drivers/<protocol>/test/); the core's and the whole product's in test/.
    include: ['test/**/*.test.ts', 'drivers/*/test/**/*.test.ts'],
    // Integration tests spawn brokers, simulators and the daemon: two cores, so keep it modest.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
