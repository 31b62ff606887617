import { defineConfig } from 'vitest/config';

/**
 * Vitest config used only by StrykerJS (`npm run test:stryker`, stryker.config.mjs): the buffer's
 * and the forwarder's unit/model tests, which exercise src/buffer/ and src/forward/. The forward
 * tests start a real mosquitto (aedes when it is missing) on free loopback ports.
 * Stryker's vitest runner forces one worker thread, no coverage and bail-on-first-failure itself.
 */
export default defineConfig({
  test: {
    include: ['test/buffer/**/*.test.ts', 'test/forward/**/*.test.ts'],
    exclude: [
      // Its child process runs the buffer unmutated (Stryker's vitest runner activates a mutant
      // only in its own worker): it cannot catch a mutant, it only costs time.
      'test/buffer/crash.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
