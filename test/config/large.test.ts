/**
 * Large configs never crash: 100,000 tags through `floorgate check` as installed (the shebang's
 * 512 MB heap cap), with a peak RSS read from the kernel (VmHWM), and 50,000 tags through
 * `floorgate run` up to the first reading the broker delivers. Generous time bounds: a 2-core
 * machine shared with other work runs these several times slower than a quiet one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { checkWithPeak } from '../bench/large-config.js';
import { spawnGateway, writeConfig } from '../bench/gateway.js';
import { startFastSim } from '../bench/fast-sim.js';
import { latencyProbe } from '../bench/rig.js';
import { MB } from '../bench/procfs.js';
import { startBroker } from '../helpers/broker.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-large-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const config = (name: string, tagsPerDevice: number, ports = { mqttPort: 1883, modbusPort: 502 }) => {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  return writeConfig({ devices: 10, tagsPerDevice, pollInterval: '1s', dir, gatewayId: name, ...ports });
};

test('check: 100,000 tags load in at most 200 MB at the shebang heap cap', async () => {
  const file = config('hundred-k', 10_000);
  const run = await checkWithPeak(file);
  expect(run.output).toBe(`${file}: OK: 10 devices, 100000 tags\n`);
  expect(run.code).toBe(0);
  expect(run.peakRss).toBeGreaterThan(0);
  expect(run.peakRss).toBeLessThanOrEqual(200 * MB);
}, 60_000);

test('check: problems in 100,000 tags are refused with exit 78, each at its line and column, not an out-of-memory crash', async () => {
  const file = config('hundred-k-typo', 10_000);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const typo = lines.findIndex((l) => l.includes('name: t09950,'));
  lines[typo] = lines[typo].replace('type: float32', 'type: float33');
  const extra = lines.findIndex((l) => l.includes('name: t04711,'));
  lines[extra] = lines[extra].replace(' }', ', colour: red }');
  fs.writeFileSync(file, lines.join('\n'));
  const run = await checkWithPeak(file);
  expect(run.output).not.toContain('heap out of memory');
  // Placed by key path (src/config/locate.ts): the positional reader would need ~900 MB here.
  expect(run.output.split('\n')).toEqual([
    expect.stringMatching(new RegExp(`^${file}:${extra + 1}:${lines[extra].indexOf('colour') + 1}: devices\\[0\\]\\.tags\\[4711\\]\\.colour: unknown key "colour"`)),
    expect.stringMatching(new RegExp(`^${file}:${typo + 1}:${lines[typo].indexOf('float33') + 1}: devices\\[0\\]\\.tags\\[9950\\]\\.type: "float33" is not one of`)),
    '',
  ]);
  expect(run.peakRss).toBeLessThanOrEqual(200 * MB);
  expect(run.code).toBe(78);
}, 60_000);

test('check: a syntax error in 100,000 tags is placed at its line and column', async () => {
  const file = config('hundred-k-syntax', 10_000);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes('name: t04711,'));
  lines[at] = lines[at].replace('name: t04711,', 'name: t04711');
  fs.writeFileSync(file, lines.join('\n'));
  const run = await checkWithPeak(file);
  expect(run.output).toMatch(new RegExp(`^${file}:${at + 1}:\\d+: \\(root\\): the config is not valid`));
  expect(run.code).toBe(78);
}, 60_000);

test('check: an unset environment variable in 100,000 tags is named', async () => {
  const file = config('hundred-k-env', 10_000);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('host: 127.0.0.1', 'host: ${FLOORGATE_TEST_UNSET_4711}'));
  const run = await checkWithPeak(file);
  expect(run.output).toMatch(new RegExp(`^${file}:1:1: \\(root\\): the config is not valid, and at 7\\.0 MB it is too large to show where each problem is ` +
    '\\(at most [0-9.]+ MB with this heap\\): environment variable FLOORGATE_TEST_UNSET_4711 is not set'));
  expect(run.code).toBe(78);
}, 60_000);

test('run: 50,000 tags reach the broker within 30 s of spawn', async () => {
  const sim = await startFastSim();
  const broker = await startBroker();
  const probe = await latencyProbe(broker.url, 'fifty-k');
  const file = config('fifty-k', 5_000, { mqttPort: broker.port, modbusPort: sim.port });
  const t0 = performance.now();
  const gw = spawnGateway(file);
  try {
    await gw.started;
    while (probe.delays.length === 0 && performance.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 10));
    expect(probe.delays.length).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(30_000);
  } finally {
    await gw.stop();
    await probe.close();
    await broker.kill();
    await sim.close();
  }
}, 60_000);
