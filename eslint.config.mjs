// Lint: the usual correctness rules, and the design's boundaries (docs/design.md) as import
// rules, so an arrow against the design fails CI instead of waiting for a reviewer.
//
// Why eslint-plugin-import-x: one plugin gives both the cycle check (import-x/no-cycle) and
// path zones (import-x/no-restricted-paths) through the TypeScript resolver, so `.js`
// specifiers resolve to the `.ts` files they name. dependency-cruiser would be a second tool
// with its own config language; eslint-plugin-boundaries needs every folder declared as an
// element type first. No formatter: the code has one consistent hand-kept style, and a
// formatter would rewrite most lines for no change in meaning.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/** A zone: files in `target` may not import from `from` (except `except`, relative to `from`). */
const never = (target, from, message, except) => ({ target, from, message, ...(except && { except }) });

const CORE_BELOW_CLI = ['./src/buffer', './src/config', './src/driver', './src/forward', './src/message', './src/scheduler',
  './src/commands', './src/http', './src/metrics', './src/metrics.ts', './src/runtime.ts', './src/serial', './src/systemd'];

const zones = [
  // A driver knows its protocol and nothing else. Its tests (drivers/<protocol>/test/) may run it
  // under the scheduler or the CLI.
  never('./drivers/*/*.ts', ['./src/buffer', './src/forward', './src/message', './src/http', './src/runtime.ts', './src/scheduler',
    './src/commands', './src/cli', './src/audit', './src/metrics', './src/metrics.ts', './src/assembly.ts'],
  'a driver knows its protocol only: it never imports the buffer, forward, MQTT, HTTP, the scheduler or the CLI'),
  // The core names no protocol; only the composition root (src/assembly.ts) holds the list.
  never(CORE_BELOW_CLI, './drivers', 'the core names no protocol: drivers reach it through the registry (src/assembly.ts)'),
  never(CORE_BELOW_CLI, './src/assembly.ts', 'only the CLI (the composition root) puts the parts together'),
  never(CORE_BELOW_CLI, './src/cli', 'nothing below the CLI imports it'),
  // Config is the ground floor.
  never('./src/config', ['./src/buffer', './src/forward', './src/message', './src/scheduler', './src/commands', './src/http',
    './src/runtime.ts', './src/driver', './src/metrics', './src/metrics.ts', './src/serial'],
  'config is the ground floor: what it checks against comes to loadConfig as data'),
  // The contract knows config's base types and nothing else of the core.
  never('./src/driver', ['./src/buffer', './src/forward', './src/message', './src/scheduler', './src/commands', './src/http',
    './src/runtime.ts', './src/metrics', './src/metrics.ts'], 'the driver contract depends on config types only'),
  // Encode runs before the buffer and imports none of its users.
  never('./src/message', ['./src/buffer', './src/forward', './src/runtime.ts', './src/http', './src/scheduler', './src/commands'],
    'encode imports none of its users (runtime, http, forward)'),
  // The buffer knows no protocol and no MQTT.
  never('./src/buffer', ['./src/forward', './src/message', './src/scheduler', './src/commands', './src/http', './src/runtime.ts',
    './src/driver'], 'the buffer stores opaque payloads: no protocol, no MQTT'),
  // The scheduler hands readings on; it never publishes or stores.
  never('./src/scheduler', ['./src/buffer', './src/forward', './src/message', './src/http', './src/runtime.ts', './src/commands'],
    'the scheduler returns readings; the runtime commits them'),
  // Commands and forward meet through forward/format.ts, one way.
  never('./src/forward', './src/commands', 'forward knows commands only as a CommandSink (forward/format.ts)'),
  // HTTP reads state from the runtime and never changes it.
  never('./src/http', ['./src/buffer', './src/forward', './src/scheduler', './src/commands', './src/runtime.ts'],
    'HTTP reads state through StatusSource; it never reaches into the parts'),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.stryker-tmp/**', 'reports/**', 'test/mutants/**', 'test/arm64/root/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs'],
    plugins: { 'import-x': importX },
    settings: {
      // Dependencies are parsed as TypeScript too, or the cycle check would not see their imports.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.mjs', '.js'],
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.check.json' })],
    },
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly' } },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-self-import': 'error',
      'import-x/no-restricted-paths': ['error', { zones }],
      // The daemon logs through pino; console output would bypass levels and journald.
      'no-console': 'error',
      // `x != null` is kept on purpose where null and undefined mean the same (JSON from /healthz).
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'prefer-const': ['error', { ignoreReadBeforeAssign: true, destructuring: 'all' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // The simulators and the demo broker are devDependencies, absent from a production install: only
  // the simulator modules (reached from the registry and the demo by dynamic import) may load them.
  {
    files: ['**/*.ts'],
    ignores: ['drivers/*/sim.ts', 'src/broker/embedded.ts', 'test/**', 'drivers/*/test/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['aedes', 'modbus-serial', 'node-opcua-server'].map((name) => ({
          name, message: 'a simulator package (devDependency): import it only in drivers/*/sim.ts or src/broker/embedded.ts',
        })),
      }],
    },
  },
  // Benchmarks, reports and some tests print their figures for the reader.
  // Parsed JSON from a broker or an HTTP answer is `any` in tests, checked by the assertions.
  { files: ['test/**', 'drivers/*/test/**'], rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' } },
);
