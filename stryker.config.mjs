// @ts-check
/**
 * StrykerJS: `npm run test:stryker` mutates the store-and-forward buffer (src/buffer/) and the MQTT
 * forwarder (src/forward/) and runs their own unit/model tests against each mutant
 * (vitest.stryker.config.ts: test/buffer/ and test/forward/, with a real mosquitto on free ports).
 * Reports: the clear-text table on stdout and reports/mutation/mutation.json (gitignored).
 *
 * One worker (concurrency 1): the machine has two cores and is shared. A whole run takes hours;
 * scope one down from the command line, e.g.
 *   npx stryker run --mutate 'src/buffer/**\/*.ts,!src/buffer/types.ts'
 *   npx stryker run --mutate 'src/forward/forwarder.ts,src/forward/lane.ts'
 */
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: {
    configFile: 'vitest.stryker.config.ts',
    // Run the tests that perTest coverage says reach a mutant, not vitest's import-graph guess.
    related: false,
  },
  mutate: [
    'src/buffer/**/*.ts',
    'src/forward/**/*.ts',
    // Type-only files: interfaces and type aliases, nothing to mutate.
    '!src/buffer/types.ts',
    '!src/forward/format.ts',
  ],
  // Not needed by these tests; keeps the sandbox copy small.
  ignorePatterns: ['dist', 'test-artifacts', '.results', 'config/.floorgate-demo'],
  coverageAnalysis: 'perTest',
  concurrency: 1,
  // A mutant times out at timeoutFactor × (its tests' time in the dry run) + timeoutMS. The
  // forward tests wait on brokers and reconnect backoffs, so leave room on a busy machine.
  timeoutMS: 10_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 10,
  tempDirName: '/tmp/floorgate-stryker-tmp',
  cleanTempDir: true,
  reporters: ['clear-text', 'json', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, reportTests: false, logTests: false, reportScoreTable: true },
  thresholds: { high: 80, low: 60, break: null },
};
