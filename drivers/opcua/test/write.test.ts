/**
 * OPC UA writes against the simulator: every type written and read back through the driver's
 * own read(), scale and offset undone, values that do not fit refused before anything is sent,
 * the server's refusals with their status names, data types learnt through their subtype chain
 * (and only once), prompt rejection when the link is down, and a bounded wait on a silent one.
 */
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_SPACE, DEFAULT_USER, parseSimSpace } from '../sim-space.js';
import { startOpcuaSim, type RunningOpcuaSim } from '../sim.js';
import { createOpcuaDriver, type OpcuaDriver } from '../driver.js';
import type { OpcuaTag } from '../schema.js';
import { startProxy } from '../../../test/helpers/tcp-proxy.js';
import { capturingLogger, device, tempDir, waitFor } from './helpers.js';

const dir = tempDir('write');
let sim: RunningOpcuaSim;
const drivers: OpcuaDriver[] = [];

const space = parseSimSpace({
  user: DEFAULT_USER,
  variables: [
    ...DEFAULT_SPACE.variables,
    { node_id: 'ns=1;s=W.SByte', type: 'SByte', value: 0 },
    { node_id: 'ns=1;s=W.UInt16', type: 'UInt16', value: 0 },
    { node_id: 'ns=1;s=W.Int32', type: 'Int32', value: 0 },
    { node_id: 'ns=1;s=W.UInt32', type: 'UInt32', value: 0 },
    { node_id: 'ns=1;s=W.Float', type: 'Float', value: 0 },
    { node_id: 'ns=1;s=W.Raw', type: 'Int16', value: 0 },
    { node_id: 'ns=1;s=W.Int64s', type: 'Int64', value: [0, 0] },
  ],
});

beforeAll(async () => {
  sim = await startOpcuaSim({ pkiDir: `${dir}/server`, space });
});

afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.close()));
});

afterAll(async () => {
  await sim?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A connected driver with these tags (writable and poll unless they say otherwise), counting its requests. */
async function connected(tags: Array<Record<string, unknown>>, endpoint = sim.endpoint, timeout = 1000) {
  const { log } = capturingLogger();
  const d = device({ endpoint, pki_dir: `${dir}/pki`, timeout, tags: tags.map((t) => ({ mode: 'poll', writable: true, ...t })) });
  let requests = 0;
  const driver = await createOpcuaDriver(d, { log, countRequest: (n = 1) => { requests += n; }, dataDir: dir });
  drivers.push(driver);
  await driver.connect(AbortSignal.timeout(20_000));
  const tag = (name: string) => d.tags.find((t) => t.name === name)!;
  const read = async (name: string) => (await driver.read({ key: name, interval: 1000, tags: [tag(name)] }, AbortSignal.timeout(5000)))[0];
  const write = (name: string, value: unknown) => driver.write(tag(name), value, AbortSignal.timeout(10_000));
  return { driver, tag, read, write, requests: () => requests };
}

const node = (name: string, id: string, extra: Record<string, unknown> = {}) => ({ name, node_id: `ns=1;s=${id}`, ...extra });

/** Rejects, with what the promise rejected with. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('opcua driver write()', () => {
  test('every type is written in the node\'s own data type and reads back as written', async () => {
    const cases: Array<[string, string, unknown, unknown]> = [
      ['setpoint', 'Oven.Zone1.Setpoint', 212.75, 212.75],
      ['speed', 'Oven.Fan.SpeedSetpoint', -1234, -1234],
      ['batch', 'Oven.BatchId', 'B-2001', 'B-2001'],
      ['running', 'Oven.Running', false, false],
      ['level', 'Oven.Fan.Level', 255, 255],
      ['sbyte', 'W.SByte', -128, -128],
      ['uint16', 'W.UInt16', 65535, 65535],
      ['int32', 'W.Int32', -2147483648, -2147483648],
      ['uint32', 'W.UInt32', 4294967295, 4294967295],
      ['float', 'W.Float', 1.5, 1.5],
      ['energy', 'Oven.EnergyWh', '-9223372036854775808', -9223372036854775808n],
      ['runtime', 'Oven.Runtime', '18446744073709551615', 18446744073709551615n],
      ['small64', 'Oven.Runtime', 7, 7],
      ['cleaned', 'Oven.LastCleaned', '2026-03-01T12:00:00+02:00', '2026-03-01T10:00:00.000Z'],
      ['cleaned_ms', 'Oven.LastCleaned', Date.UTC(2024, 1, 29), '2024-02-29T00:00:00.000Z'],
      ['recipe', 'Oven.Recipe', 'CgsM', 'CgsM'],
      ['setpoints', 'Oven.Setpoints', [150, 175.5, 190, 205], [150, 175.5, 190, 205]],
      ['alarms', 'Oven.Alarms', [true, true, false], [true, true, false]],
      ['int64s', 'W.Int64s', ['9223372036854775807', -5], ['9223372036854775807', -5]],
    ];
    const { read, write } = await connected(cases.map(([name, id]) => node(name, id)));
    for (const [name, , value, expected] of cases) {
      await write(name, value);
      const r = await read(name);
      expect(r, name).toMatchObject({ quality: 'good', value: expected });
    }
  });

  test('scale and offset are undone: the raw value lands on the node, the engineering value reads back', async () => {
    const { read, write } = await connected([node('temp', 'W.Raw', { scale: 0.1, offset: 10 }), node('raw', 'W.Raw')]);
    await write('temp', 22.5);
    expect((await read('raw')).value).toBe(125);
    expect((await read('temp')).value).toBeCloseTo(22.5, 10);
    await write('temp', -3000);
    expect((await read('raw')).value).toBe(-30100);
  });

  test('values that do not fit are refused before anything is sent, naming the data type; the node keeps its value', async () => {
    const { read, write, requests } = await connected([
      node('speed', 'Oven.Fan.SpeedSetpoint'), node('level', 'Oven.Fan.Level'), node('setpoint', 'Oven.Zone1.Setpoint'),
      node('runtime', 'Oven.Runtime'), node('float', 'W.Float'), node('setpoints', 'Oven.Setpoints'), node('running', 'Oven.Running'),
      node('scaled', 'Oven.Fan.SpeedSetpoint', { scale: 0.01 }),
    ]);
    await write('speed', 1100);
    await write('setpoint', 205);
    const before = requests();
    const refusals: Array<[string, unknown, ErrorConstructor, RegExp]> = [
      ['speed', 70000, RangeError, /^value 70000 is out of range for Int16 \(raw 70000, allowed -32768\.\.32767\)$/],
      ['scaled', 400, RangeError, /out of range for Int16 \(raw 40000,/],
      ['level', -1, RangeError, /out of range for Byte/],
      ['runtime', '-1', RangeError, /out of range for UInt64/],
      ['float', 1e39, RangeError, /out of range for Float/],
      ['speed', 12.5, RangeError, /not a whole number, as Int16 needs/],
      ['setpoint', 'hot', TypeError, /^expected a number for Double, got "hot"$/],
      ['running', 'yes', TypeError, /for Boolean/],
      ['setpoint', [1, 2], TypeError, /^the node holds a single Double, not an array$/],
      ['setpoints', 5, TypeError, /^the node holds an array of Double: send a JSON array$/],
      ['setpoints', [1, 'x'], TypeError, /^element 1: expected a number for Double/],
    ];
    for (const [name, value, kind, message] of refusals) {
      const err = await failure(write(name, value));
      expect(err, `${name} ← ${JSON.stringify(value)}`).toBeInstanceOf(kind);
      expect(err.message).toMatch(message);
    }
    // One Read each for the types of the five nodes not written before, and not a single Write.
    expect(requests() - before).toBe(5);
    expect((await read('speed')).value).toBe(1100);
    expect((await read('setpoint')).value).toBe(205);
  });

  test('the server\'s refusal rejects with its status name, and nothing changes', async () => {
    const { read, write } = await connected([node('serial', 'Oven.SerialNumber'), node('ghost', 'Oven.NoSuchNode')]);
    const err = await failure(write('serial', 'OV-0000'));
    expect(err).not.toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(RangeError);
    expect(err.message).toBe('write to serial failed: BadNotWritable (The access level does not allow writing to the Node.)');
    expect((await read('serial')).value).toBe('OV-2291');
    expect((await failure(write('ghost', 1))).message).toBe('write to ghost failed: BadNodeIdUnknown');
  });

  test('a tag without writable: true is refused without asking the server', async () => {
    const { write, requests } = await connected([node('batch', 'Oven.BatchId', { writable: false })]);
    const before = requests();
    expect((await failure(write('batch', 'X'))).message).toBe('tag batch is not writable (it needs writable: true)');
    expect(requests()).toBe(before);
  });

  test('the data type is read once per node, then every write is a single Write request', async () => {
    const { write, requests } = await connected([node('setpoint', 'Oven.Zone1.Setpoint'), node('again', 'Oven.Zone1.Setpoint', { scale: 2 })]);
    let before = requests();
    await write('setpoint', 201);
    expect(requests() - before).toBe(2);
    before = requests();
    await write('setpoint', 202);
    await write('setpoint', 203);
    expect(requests() - before).toBe(2);
  });

  test('a subtype of a built-in type (UtcTime, an enumeration, Duration) is encoded as its built-in type', async () => {
    // Standard nodes of every server: ServerStatus.StartTime is a UtcTime, ServerStatus.State a
    // ServerState enumeration, MinSupportedSampleRate a Duration. None is writable.
    const { write, requests } = await connected([
      { name: 'start', node_id: 'i=2257' }, { name: 'state', node_id: 'i=2259' }, { name: 'rate', node_id: 'i=2272' },
    ]);
    const before = requests();
    expect((await failure(write('start', 'soon'))).message).toMatch(/for DateTime, got "soon"/);
    // Three types, each learnt with a Read and at least one Browse up the HasSubtype chain.
    expect(requests() - before).toBeGreaterThanOrEqual(2);
    expect((await failure(write('state', 'Running'))).message).toBe('expected a number for Int32, got "Running"');
    expect((await failure(write('rate', true))).message).toBe('expected a number for Double, got true');
    // Encoded as the server expects, the write reaches it and is refused for its access level only.
    const refused = await failure(write('start', '2025-01-01T00:00:00Z'));
    expect(refused.message).toMatch(/^write to start failed: Bad(NotWritable|UserAccessDenied) /);
  });

  test('rejects at once when not connected, after close(), and when the link is lost', async () => {
    const tags = [node('setpoint', 'Oven.Zone1.Setpoint')];
    const d = device({ endpoint: sim.endpoint, pki_dir: `${dir}/pki`, tags: tags.map((t) => ({ ...t, mode: 'poll', writable: true })) });
    const idle = await createOpcuaDriver(d, { log: capturingLogger().log, countRequest: () => {}, dataDir: dir });
    drivers.push(idle);
    const tag = d.tags[0] as OpcuaTag;
    let started = Date.now();
    expect((await failure(idle.write(tag, 1, AbortSignal.timeout(5000)))).message).toBe('write to setpoint failed: not connected');
    expect(Date.now() - started).toBeLessThan(100);

    const own = await startOpcuaSim({ pkiDir: `${dir}/server`, space });
    try {
      const subscribed = await connected([node('setpoint', 'Oven.Zone1.Setpoint', { mode: 'subscribe', sampling_interval: 100 }), node('polled', 'Oven.Zone1.Setpoint')], own.endpoint);
      const unsubscribe = await subscribed.driver.subscribe([subscribed.tag('setpoint')], () => {});
      await subscribed.write('polled', 190);
      await own.crash();
      await waitFor('the driver to notice the loss', () => subscribed.driver.state !== 'ready', 10_000);
      started = Date.now();
      const err = await failure(subscribed.write('polled', 191));
      expect(Date.now() - started).toBeLessThan(100);
      expect(err.message).toMatch(/^write to polled failed: OPC UA link down \(.+\), recovering$/);
      await subscribed.driver.close();
      expect((await failure(subscribed.write('polled', 192))).message).toBe('write to polled failed: not connected');
      await unsubscribe();
    } finally {
      await own.close();
    }
  });

  test('a write the server leaves unanswered fails after the device timeout, saying the outcome is unknown', async () => {
    const proxy = await startProxy({ port: sim.port });
    try {
      const { write } = await connected([node('setpoint', 'Oven.Zone1.Setpoint')], `opc.tcp://127.0.0.1:${proxy.port}`, 500);
      await write('setpoint', 201);
      proxy.blackhole();
      const started = Date.now();
      const err = await failure(write('setpoint', 202));
      expect(err.message).toBe('write to setpoint failed: BadTimeout: no answer within 500 ms, the value may or may not have been written');
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await Promise.all(drivers.splice(0).map((d) => d.close()));
      await proxy.close();
    }
  });
});
