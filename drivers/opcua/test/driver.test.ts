/**
 * The OPC UA driver against the simulator: the type mapping through a real Read, batched poll
 * reads, a subscription (with deadband filters), node ids that do not exist, nsu= node ids, and
 * the fit with the scheduler's DeviceRunner through a server restart.
 */
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { DEFAULT_SPACE, DEFAULT_USER, parseSimSpace } from '../sim-space.js';
import { startOpcuaSim, type RunningOpcuaSim } from '../sim.js';
import { createOpcuaDriver, type OpcuaDriver } from '../driver.js';
import { opcua } from '../index.js';
import { DeviceRunner } from '../../../src/scheduler/device-runner.js';
import { Metrics } from '../../../src/metrics.js';
import type { Reading } from '../../../src/driver/contract.js';
import { capturingLogger, collector, device, noCount, tempDir, waitFor } from './helpers.js';

const dir = tempDir('driver');
let sim: RunningOpcuaSim;
let driver: OpcuaDriver | undefined;
let runner: DeviceRunner | undefined;

const space = parseSimSpace({
  user: DEFAULT_USER,
  variables: [
    ...DEFAULT_SPACE.variables,
    { node_id: 'ns=1;s=Test.Ramp', type: 'Double', kind: 'counter', interval: '100ms' },
    { node_id: 'ns=1;s=Test.Negative64', type: 'Int64', value: '-9007199254740993' },
    { node_id: 'ns=1;s=Test.Small64', type: 'Int64', value: -42 },
    { node_id: 'ns=1;s=Test.List64', type: 'UInt64', value: ['18446744073709551615', 5] },
    { node_id: 'ns=1;s=Test.Bytes', type: 'Byte', value: [1, 2, 255] },
    { node_id: 'ns=1;s=Test.Doomed', type: 'Double', kind: 'counter', interval: '100ms' },
    { node_id: 'ns=1;s=Test.Morph', type: 'Double', kind: 'counter', interval: '100ms' },
  ],
});

beforeAll(async () => {
  sim = await startOpcuaSim({ pkiDir: `${dir}/server`, space });
});

afterEach(async () => {
  await runner?.stop();
  runner = undefined;
  await driver?.close();
  driver = undefined;
});

afterAll(async () => {
  await sim?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function connected(tags: Array<Record<string, unknown>>, raw: Record<string, unknown> = {}) {
  const { log, lines } = capturingLogger();
  const d = device({ endpoint: sim.endpoint, pki_dir: `${dir}/pki`, tags, ...raw });
  let requests = 0;
  driver = await createOpcuaDriver(d, { log, countRequest: (n = 1) => { requests += n; }, dataDir: dir });
  await driver.connect(AbortSignal.timeout(20_000));
  return { d, lines, requests: () => requests };
}

const byTag = (readings: Reading[]) => Object.fromEntries(readings.map((r) => [r.tag, r]));

describe('opcua driver', () => {
  test('reads every type in one batched Read, mapped as the README says', async () => {
    const tags = [
      ['double', 'Oven.Zone1.Temperature'], ['uint32', 'Oven.Counter'], ['string', 'Oven.BatchId'], ['bool', 'Oven.Running'],
      ['int16', 'Oven.Fan.Speed'], ['byte', 'Oven.Fan.Level'], ['float', 'Oven.Pressure'], ['int64_big', 'Oven.EnergyWh'],
      ['uint64', 'Oven.Runtime'], ['doubles', 'Oven.Setpoints'], ['bools', 'Oven.Alarms'], ['datetime', 'Oven.LastCleaned'],
      ['bytestring', 'Oven.Recipe'], ['int64_neg', 'Test.Negative64'], ['int64_small', 'Test.Small64'],
      ['uint64s', 'Test.List64'], ['bytes', 'Test.Bytes'],
    ].map(([name, id]) => ({ name, node_id: `ns=1;s=${id}`, mode: 'poll' }));
    const scaledTag = { name: 'level_scaled', node_id: 'ns=1;s=Oven.Fan.Level', mode: 'poll', scale: 0.5, offset: 1 };
    const { d, requests } = await connected([...tags, scaledTag]);
    const before = requests();
    const r = byTag(await driver!.read({ key: 'all', interval: 1000, tags: d.tags }, AbortSignal.timeout(5000)));
    expect(requests() - before).toBe(1);
    expect(sim.requests()).toBeGreaterThan(0);
    for (const reading of Object.values(r)) expect(reading.quality).toBe('good');
    expect(r.double.value).toBeTypeOf('number');
    expect(r.double.value as number).toBeGreaterThanOrEqual(180);
    expect(r.uint32.value).toBeTypeOf('number');
    expect(r.string.value).toBe('B-1042');
    expect(r.bool.value).toBe(true);
    expect(r.int16.value).toBeTypeOf('number');
    expect(r.byte.value).toBe(3);
    expect(r.float.value).toBeCloseTo(1, 0);
    expect(r.int64_big.value).toBe(9007199254740993n);
    expect(r.uint64.value).toBe(86400);
    expect(r.doubles.value).toEqual([180, 200, 220]);
    expect(r.bools.value).toEqual([false, true, false]);
    expect(r.datetime.value).toBe('2025-01-15T06:30:00.000Z');
    expect(r.bytestring.value).toBe('AQID/w==');
    expect(r.int64_neg.value).toBe(-9007199254740993n);
    expect(r.int64_small.value).toBe(-42);
    expect(r.uint64s.value).toEqual(['18446744073709551615', 5]);
    expect(r.bytes.value).toEqual([1, 2, 255]);
    expect(r.level_scaled.value).toBe(2.5);
    // Source timestamps, not the time of the read: the static BatchId was set when the server started.
    expect(r.string.ts).toBeLessThan(Date.now() - 100);
  });

  test('a node id that does not exist makes that tag bad and leaves the others alone (read and subscribe)', async () => {
    const { d, lines } = await connected([
      { name: 'counter', node_id: 'ns=1;s=Oven.Counter', sampling_interval: 100 },
      { name: 'ghost', node_id: 'ns=1;s=Oven.NoSuchNode', sampling_interval: 100 },
      { name: 'bad_ns', node_id: 'nsu=urn:nowhere;s=Oven.Counter', sampling_interval: 100 },
      { name: 'by_uri', node_id: `nsu=${sim.namespaceUri};s=Oven.BatchId`, sampling_interval: 100 },
    ]);
    const r = byTag(await driver!.read({ key: 'probe', interval: 1000, tags: d.tags }, AbortSignal.timeout(5000)));
    expect(r.counter.quality).toBe('good');
    expect(r.ghost).toMatchObject({ quality: 'bad', value: null, error: 'BadNodeIdUnknown' });
    expect(r.bad_ns).toMatchObject({ quality: 'bad', error: 'BadNodeIdUnknown: the server has no namespace urn:nowhere' });
    expect(r.by_uri).toMatchObject({ quality: 'good', value: 'B-1042' });

    const got = collector();
    await driver!.subscribe(d.tags, got.emit);
    await waitFor('counter notifications', () => got.of('counter').length >= 2);
    expect(got.of('ghost')).toEqual([expect.objectContaining({ quality: 'bad', error: 'BadNodeIdUnknown' })]);
    // It travels with good readings, so the device as a whole does not look down.
    expect(got.batches.find((b) => b.some((r) => r.tag === 'ghost'))!.some((r) => r.quality === 'good')).toBe(true);
    expect(got.of('by_uri')[0]).toMatchObject({ quality: 'good', value: 'B-1042' });
    const warn = lines.find((l) => l.msg.startsWith('opcua monitored items not created'));
    expect(warn?.items).toEqual(expect.arrayContaining([expect.objectContaining({ tag: 'ghost', error: 'BadNodeIdUnknown' })]));
  });

  test('a node deleted at run time goes bad with one warning naming it and the status; a changed data type is warned once', async () => {
    const tags = [
      { name: 'doomed', node_id: 'ns=1;s=Test.Doomed', sampling_interval: 100 },
      { name: 'morph', node_id: 'ns=1;s=Test.Morph', sampling_interval: 100 },
      { name: 'counter', node_id: 'ns=1;s=Oven.Counter', sampling_interval: 100 },
    ];
    const { d, lines } = await connected([...tags, ...tags.map((t) => ({ ...t, name: `${t.name}_poll`, mode: 'poll' }))]);
    const got = collector();
    await driver!.subscribe(d.tags.filter((t) => t.mode === 'subscribe'), got.emit);
    const poll = () => driver!.read({ key: 'p', interval: 1000, tags: d.tags.filter((t) => t.mode === 'poll') }, AbortSignal.timeout(5000));
    await waitFor('doomed and morph values', () => got.of('doomed').length >= 2 && got.of('morph').length >= 2);
    expect((await poll()).every((r) => r.quality === 'good')).toBe(true);

    sim.deleteVariable('ns=1;s=Test.Doomed');
    sim.redefine({ ...space.variables.find((v) => v.node_id === 'ns=1;s=Test.Morph')!, type: 'String', kind: 'static', value: 'recipe 7' });
    for (let i = 0; i < 3; i++) {
      const r = byTag(await poll());
      expect(r.doomed_poll).toMatchObject({ quality: 'bad', error: 'BadNodeIdUnknown' });
      expect(r.morph_poll).toMatchObject({ quality: 'good', value: 'recipe 7' });
    }
    await waitFor('the subscription to see both', () => got.of('doomed').some((r) => r.quality === 'bad') && got.of('morph').some((r) => r.value === 'recipe 7'));
    await new Promise((r) => setTimeout(r, 500));
    const story = JSON.stringify(lines.filter((l) => l.level >= 40));
    const gone = lines.filter((l) => l.level === 40 && l.msg.startsWith('opcua node bad'));
    expect(gone.map((l) => [l.tag, l.node_id, l.status]), story).toEqual(expect.arrayContaining([
      ['doomed_poll', 'ns=1;s=Test.Doomed', 'BadNodeIdUnknown'], ['doomed', 'ns=1;s=Test.Doomed', 'BadNodeIdInvalid'],
    ]));
    expect(gone, story).toHaveLength(2);
    const retyped = lines.filter((l) => l.level === 40 && l.msg.startsWith('opcua node data type changed'));
    expect(retyped.map((l) => [l.tag, l.node_id, l.from, l.to]), story).toEqual(expect.arrayContaining([
      ['morph_poll', 'ns=1;s=Test.Morph', 'Double', 'String'], ['morph', 'ns=1;s=Test.Morph', 'Double', 'String'],
    ]));
    expect(retyped, story).toHaveLength(2);
  });

  test('subscribe: source timestamps, and the absolute deadband applied by the server (refused filters fall back)', async () => {
    const { d, lines } = await connected([
      { name: 'ramp', node_id: 'ns=1;s=Test.Ramp', sampling_interval: 50, deadband: 2.5 },
      { name: 'ramp_all', node_id: 'ns=1;s=Test.Ramp', sampling_interval: 50 },
      { name: 'batch', node_id: 'ns=1;s=Oven.BatchId', deadband: 1 },
    ]);
    const got = collector();
    await driver!.subscribe(d.tags, got.emit);
    await waitFor('deadbanded ramp values', () => got.of('ramp').length >= 4);
    const ramp = got.of('ramp').map((r) => r.value as number);
    for (let i = 1; i < ramp.length; i++) expect(ramp[i] - ramp[i - 1]).toBeGreaterThan(2.5);
    const all = got.of('ramp_all').map((r) => r.value as number);
    expect(all.length).toBeGreaterThan(ramp.length);
    expect(got.of('batch')[0]).toMatchObject({ quality: 'good', value: 'B-1042' });
    const refused = lines.find((l) => l.msg.startsWith('opcua server refused a deadband filter'));
    expect(refused?.tags).toEqual(['batch']);
    for (const r of got.readings) expect(r.ts).toBeGreaterThan(Date.now() - 60_000);
  });

  test('the registration: address() is the node id, create() gives a working driver, the plan names every item', async () => {
    const d = device({
      endpoint: sim.endpoint, pki_dir: `${dir}/pki`, tags: [
        { name: 'zone1', node_id: 'ns=1;s=Oven.Zone1.Temperature', sampling_interval: 250, deadband: 0.2 },
        { name: 'batch', node_id: 'ns=1;s=Oven.BatchId', mode: 'poll', poll_interval: 5000 },
      ],
    });
    expect(opcua.address!(d.tags[0])).toBe('ns=1;s=Oven.Zone1.Temperature');
    expect(opcua.isPushTag!(d, d.tags[0])).toBe(true);
    expect(opcua.isPushTag!(d, d.tags[1])).toBe(false);
    expect(opcua.plan!(d).map((l) => l.text)).toEqual([
      'subscription: publishing every 250 ms, 1 monitored item (+ Server_ServerStatus_CurrentTime, the silence watchdog)',
      '  monitor ns=1;s=Oven.Zone1.Temperature (zone1): sampling 250 ms, queue 10, absolute deadband 0.2',
      "read every 5000 ms: 1 node in one Read request (split at the server's MaxNodesPerRead)",
      '  ns=1;s=Oven.BatchId (batch)',
    ]);
    const created = await opcua.create(d, { log: pino({ level: 'silent' }), countRequest: noCount, dataDir: dir });
    await created.connect(AbortSignal.timeout(20_000));
    try {
      const [r] = await created.read({ key: 'p', interval: 5000, tags: [d.tags[1]] }, AbortSignal.timeout(5000));
      expect(r).toMatchObject({ tag: 'batch', value: 'B-1042', quality: 'good' });
    } finally {
      await created.close();
    }
  });

  test('under the DeviceRunner: poll and subscribe tags flow, go bad while the server is down and resume after its restart', async () => {
    const d = device({
      endpoint: sim.endpoint, pki_dir: `${dir}/pki`, tags: [
        { name: 'counter', node_id: 'ns=1;s=Oven.Counter', sampling_interval: 100 },
        { name: 'batch', node_id: 'ns=1;s=Oven.BatchId', mode: 'poll', poll_interval: 300 },
      ],
    });
    const out: Reading[] = [];
    const { log, lines } = capturingLogger();
    runner = new DeviceRunner({
      device: d, module: opcua, log, metrics: new Metrics(false), dataDir: dir,
      emit: (_device, readings) => out.push(...readings), reconnectMinMs: 200, reconnectMaxMs: 1000,
    });
    runner.start();
    const goodOf = (tag: string) => out.filter((r) => r.tag === tag && r.quality === 'good');
    await waitFor('both tags good', () => goodOf('counter').length >= 2 && goodOf('batch').length >= 1, 20_000);
    expect(runner.status().up).toBe(true);

    await sim.crash();
    await waitFor('both tags bad', () => ['counter', 'batch'].every((t) => out.some((r) => r.tag === t && r.quality === 'bad')));
    expect(runner.status().up).toBe(false);
    const seen = out.length;
    sim = await startOpcuaSim({ pkiDir: `${dir}/server`, space, port: sim.port });
    await waitFor('readings to resume', () => out.slice(seen).some((r) => r.tag === 'counter' && r.quality === 'good')
      && out.slice(seen).some((r) => r.tag === 'batch' && r.quality === 'good'), 20_000);
    await waitFor('the device up again', () => runner!.status().up);
    // One restart, one outage: said once, whatever the recovery went through.
    const down = lines.filter((l) => l.msg === 'device down');
    expect(down, JSON.stringify(down.map((l) => l.error))).toHaveLength(1);
  });
});
