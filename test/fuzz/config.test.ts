/**
 * The config loader (loadFloorgateConfigText, with every registered driver's schema) under
 * hostile text: the shipped configs mutated line by line and character by character (YAML syntax characters, anchors and aliases, merge keys,
 * tags, tabs, BOMs, document markers, `${VAR}` forms, extreme numbers, durations and sizes,
 * cut short), random YAML documents of any shape, and random text.
 *
 * Every case runs in a worker thread that is killed if it takes longer than HANG_MS, so a hang
 * fails the test with the input instead of stalling the run. Each must return either a frozen
 * config or problems that each carry a line and column inside the text, a key path and a
 * message — never throw. The worker loads the compiled loader (dist/, built by `npm test`'s
 * pretest), the same code `floorgate check` runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/gateway.js';

const HANG_MS = 3_000;
const LOADER = path.join(ROOT, 'dist/src/assembly.js');
const CORPUS = ['config/floorgate.example.yaml', 'config/demo.yaml'].map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8'));

interface Outcome {
  readonly ms: number;
  readonly result:
    | { ok: true; frozen: boolean; devices: number }
    | { ok: false; problems: { file: string; line: number; col: number; path: string; message: string }[] }
    | { threw: string };
}

/** One worker running the loader; replaced when a case hangs. */
class LoaderWorker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 0;
  slowest = 0;

  private start(): Promise<void> {
    const worker = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData).then(({ loadFloorgateConfigText }) => {
        parentPort.on('message', ({ id, text }) => {
          const t0 = performance.now();
          let result;
          try {
            const r = loadFloorgateConfigText(text, '/tmp/floorgate-fuzz/floorgate.yaml', { X: 'x', EMPTY: '', MQTT_PASSWORD: 'p' });
            result = r.ok ? { ok: true, frozen: Object.isFrozen(r.config) && Object.isFrozen(r.config.mqtt), devices: r.config.devices.length }
                          : { ok: false, problems: r.problems };
          } catch (err) {
            result = { threw: String((err && err.stack) || err) };
          }
          parentPort.postMessage({ id, ms: performance.now() - t0, result });
        });
        parentPort.postMessage('ready');
      });
    `, { eval: true, workerData: `file://${LOADER}` });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
  }

  async load(text: string): Promise<Outcome> {
    this.ready ??= this.start();
    await this.ready;
    const worker = this.worker!;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.off('message', onMessage);
        void worker.terminate();
        this.ready = undefined;
        reject(new Error(`the loader hung (> ${HANG_MS} ms) on:\n${JSON.stringify(text).slice(0, 2_000)}`));
      }, HANG_MS);
      const onMessage = (m: { id: number } & Outcome) => {
        if (m.id !== id) return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        this.slowest = Math.max(this.slowest, m.ms);
        resolve(m);
      };
      worker.on('message', onMessage);
      worker.postMessage({ id, text });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}

const loader = new LoaderWorker();
beforeAll(() => {
  if (!fs.existsSync(LOADER)) throw new Error(`${LOADER} is missing: build first (npx tsc -p tsconfig.json)`);
});
afterAll(() => loader.close());

let cases = 0;
let accepted = 0;

async function check(text: string): Promise<void> {
  cases++;
  const { result } = await loader.load(text);
  if ('threw' in result) throw new Error(`the loader threw: ${result.threw}\non: ${JSON.stringify(text).slice(0, 2_000)}`);
  if (result.ok) {
    accepted++;
    expect(result.frozen).toBe(true);
    return;
  }
  expect(result.problems.length).toBeGreaterThan(0);
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const p of result.problems) {
    expect(p.file).toBe('/tmp/floorgate-fuzz/floorgate.yaml');
    expect(Number.isInteger(p.line) && p.line >= 1 && p.line <= lines + 1, `line ${p.line} of ${lines}`).toBe(true);
    expect(Number.isInteger(p.col) && p.col >= 1).toBe(true);
    expect(typeof p.path).toBe('string');
    expect(p.message).toMatch(/\S/);
  }
}

/** Text that means something to YAML or to the loader. */
const TOKENS = [
  ':', ': ', '- ', '-', '{', '}', '[', ']', ',', '&a ', '*a', '<<: *a', '!!binary ', '!!str ', '!!int ', '!custom ', '? ', '|', '>-',
  '#', '"', "'", '\\', '\t', '\0', '\uFEFF', '\r', '---\n', '...\n', '%YAML 1.2\n', '@', '`', '${X}', '${X:-', '${', '$${', '${UNSET}',
  '${EMPTY:-}', '${X:-${X}}', '1e309', '-0', '0x1F', '0o17', '.nan', '.inf', '~', 'null', 'yes', 'on', '\u2028', '😀',
];
const VALUES = [
  '', '-1', '0', '1e400', '99999999999999999999', '3.5', 'NaN', 'true', '[]', '{}', '[a, b]', '{ a: 1 }', '0s', '-5s', '1ms',
  '7d', '25h', '512MiB', '0B', '1.5KB', '2 GB', 'x'.repeat(5_000), '"\\u0000"', "'it''s'", '*a', '&a 5', '!!binary aGVsbG8=',
  '${X}', '${UNSET}', '${X:-5s}', 'opc.tcp://h:4840', 'mqtt://[::1]:1883', 'mqtt://u:p@h:1', '[::]:9102', '0.0.0.0:1', 'false',
];

type Mutation =
  | { kind: 'delete' | 'duplicate' | 'indent' | 'dedent' | 'tab'; line: number }
  | { kind: 'swap'; line: number; other: number }
  | { kind: 'insert'; at: number; token: string }
  | { kind: 'value'; line: number; value: string }
  | { kind: 'truncate'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete', 'duplicate', 'indent', 'dedent', 'tab') as fc.Arbitrary<'delete'>, line: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), line: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), token: fc.constantFrom(...TOKENS) }),
  fc.record({ kind: fc.constant('value' as const), line: fc.nat(), value: fc.constantFrom(...VALUES) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(text: string, mutations: readonly Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const lines = out.split('\n');
    const n = lines.length;
    switch (m.kind) {
      case 'delete': lines.splice(m.line % n, 1); break;
      case 'duplicate': lines.splice(m.line % n, 0, lines[m.line % n]); break;
      case 'indent': lines[m.line % n] = `  ${lines[m.line % n]}`; break;
      case 'dedent': lines[m.line % n] = lines[m.line % n].replace(/^ {1,2}/, ''); break;
      case 'tab': lines[m.line % n] = lines[m.line % n].replace(/^ {2}/, '\t'); break;
      case 'swap': [lines[m.line % n], lines[m.other % n]] = [lines[m.other % n], lines[m.line % n]]; break;
      case 'value': lines[m.line % n] = lines[m.line % n].replace(/: .*$/, `: ${m.value}`); break;
      case 'insert': {
        const at = m.at % (out.length + 1);
        out = out.slice(0, at) + m.token + out.slice(at);
        continue;
      }
      case 'truncate': out = out.slice(0, m.at % (out.length + 1)); continue;
    }
    out = lines.join('\n');
  }
  return out;
}

describe('fuzz: the config loader', () => {
  it('accepts the shipped configs as they are (the harness works)', async () => {
    for (const text of CORPUS) {
      const { result } = await loader.load(text);
      // The example names password files that do not exist here; the demo must load.
      expect('threw' in result).toBe(false);
    }
    expect((await loader.load(CORPUS[1])).result).toMatchObject({ ok: true, frozen: true });
  });

  it('mutated shipped configs: a config or located problems, never a throw or a hang', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...CORPUS), fc.array(mutationArb, { minLength: 1, maxLength: 6 }),
      async (base, mutations) => check(mutate(base, mutations)),
    ), { numRuns: 400 });
  }, 60_000);

  it('random YAML documents and random text: the same', async () => {
    const doc = fc.oneof(
      fc.object({ maxDepth: 4, values: [fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null)] }),
      fc.record({
        gateway: fc.oneof(fc.record({ id: fc.string(), data_dir: fc.string() }), fc.anything()),
        mqtt: fc.oneof(fc.record({ url: fc.string() }, { requiredKeys: [] }), fc.anything()),
        devices: fc.oneof(fc.array(fc.dictionary(fc.constantFrom('name', 'driver', 'host', 'port', 'tags', 'unit_id', 'endpoint', 'pattern'), fc.anything())), fc.anything()),
      }, { requiredKeys: [] }),
    ).map((v) => stringify(v));
    await fc.assert(fc.asyncProperty(fc.oneof(doc, fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })), check), { numRuns: 300 });
    console.log(`[fuzz] config: ${cases} cases (${accepted} accepted), slowest ${loader.slowest.toFixed(1)} ms`);
  }, 60_000);

  it('alias bombs and deep nesting end in a problem, quickly', async () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 12; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    for (const text of [
      `${laughs.join('\n')}\ngateway: { id: g }\nmqtt: { url: "mqtt://h:1" }\ndevices: []\n`,
      `gateway: &g { id: g, x: *g }\nmqtt: { url: "mqtt://h:1" }\ndevices: []\n`,
      `${'['.repeat(5_000)}${']'.repeat(5_000)}\n`,
      `devices:\n${Array.from({ length: 400 }, (_, i) => `${'  '.repeat(i)}- `).join('\n')}x\n`,
    ]) {
      const t0 = Date.now();
      await check(text);
      expect(Date.now() - t0).toBeLessThan(HANG_MS);
    }
  }, 30_000);
});
