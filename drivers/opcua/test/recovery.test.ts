/**
 * Recovery of a subscription, against the simulator behind a fault proxy: a network cut the
 * watchdog must notice (reactivate + republish, nothing lost), a cut outlasting the session
 * (new session + transfer), a server restart (new subscription), and a poll-only device whose
 * lost link goes back to the scheduler.
 */
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startOpcuaSim, type RunningOpcuaSim } from '../sim.js';
import { createOpcuaDriver, type OpcuaDriver, type OpcuaTuning } from '../driver.js';
import { startProxy, type TcpProxy } from '../../../test/helpers/tcp-proxy.js';
import { capturingLogger, collector, device, noCount, statePath, tempDir, waitFor, type LogLine } from './helpers.js';

const dir = tempDir('recovery');
let sim: RunningOpcuaSim;
let proxy: TcpProxy;
let driver: OpcuaDriver | undefined;

const FAST: Partial<OpcuaTuning> = {
  silencePeriods: 3, silenceFloorMs: 2000, reconnectMinMs: 200, reconnectMaxMs: 800, connectTimeout: 3000,
};

beforeAll(async () => {
  sim = await startOpcuaSim({ pkiDir: `${dir}/server` });
  proxy = await startProxy({ port: sim.port });
});

afterEach(async () => {
  proxy.pass();
  await driver?.close();
  driver = undefined;
});

afterAll(async () => {
  await proxy?.close();
  await sim?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function oven(tags: Array<Record<string, unknown>>, timeout = 1000) {
  return device({
    endpoint: `opc.tcp://127.0.0.1:${proxy.port}`, pki_dir: `${dir}/pki`, timeout,
    username: 'operator', password: 'secret', tags,
  });
}

const counterTag = { name: 'counter', node_id: 'ns=1;s=Oven.Counter', sampling_interval: 100, queue_size: 100 };

async function subscribed(tuning: Partial<OpcuaTuning>) {
  const { log, lines } = capturingLogger();
  const d = oven([counterTag]);
  driver = await createOpcuaDriver(d, { log, countRequest: noCount, dataDir: dir }, { ...FAST, ...tuning });
  await driver.connect(AbortSignal.timeout(20_000));
  const got = collector();
  await driver.subscribe(d.tags, got.emit);
  await waitFor('first counter values', () => got.of('counter').filter((r) => r.quality === 'good').length >= 3);
  return { got, lines };
}

/** The good counter values, which must be consecutive integers: nothing lost, whatever repeated. */
function assertNoGap(values: number[]): void {
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  const missing = [];
  for (let v = distinct[0]; v <= distinct[distinct.length - 1]; v++) if (!distinct.includes(v)) missing.push(v);
  expect(missing).toEqual([]);
}

const good = (got: ReturnType<typeof collector>) => got.of('counter').filter((r) => r.quality === 'good').map((r) => r.value as number);
const lostLine = (lines: LogLine[]) => lines.find((l) => l.msg === 'opcua link lost');

describe('opcua recovery', () => {
  test('a silent network cut: the watchdog notices, the session is reactivated and the missed notifications republished', async () => {
    const { got, lines } = await subscribed({ sessionTimeout: 30_000 });
    const before = good(got).length;
    proxy.blackhole();
    await waitFor('the watchdog to declare the link lost', () => lostLine(lines) !== undefined, 6000);
    expect(String(lostLine(lines)!.cause)).toMatch(/no notification for/);
    await waitFor('the tags to turn bad', () => got.of('counter').some((r) => r.quality === 'bad'));
    expect(got.of('counter').find((r) => r.quality === 'bad')!.error).toMatch(/OPC UA link lost/);
    proxy.pass();
    await waitFor('recovery', () => lines.some((l) => l.msg === 'opcua link recovered'));
    const after = good(got).length;
    await waitFor('fresh counter values', () => good(got).length >= after + 3);
    expect(before).toBeGreaterThan(0);
    const path = statePath(lines);
    const story = JSON.stringify(lines.filter((l) => l.level >= 30).map((l) => ({ msg: l.msg, to: l.to, cause: l.cause, reason: l.reason })));
    expect(path, story).toEqual(expect.arrayContaining(['reconnecting', 'reactivating', 'republishing', 'repairing_items', 'resyncing', 'ready']));
    expect(path, story).not.toContain('new_session');
    expect(lines.some((l) => l.msg === 'opcua notifications recovered with Republish'), story).toBe(true);
    assertNoGap(good(got));
  });

  test('a cut longer than the session timeout: a new session takes the subscription over (TransferSubscriptions)', async () => {
    const { got, lines } = await subscribed({ sessionTimeout: 2000 });
    proxy.blackhole();
    await waitFor('the link to be declared lost', () => lostLine(lines) !== undefined, 6000);
    // Let the server expire the session (2 s) while the link is still cut.
    await new Promise((r) => setTimeout(r, 3000));
    proxy.pass();
    await waitFor('recovery', () => lines.some((l) => l.msg === 'opcua link recovered'), 15_000);
    const after = good(got).length;
    await waitFor('fresh counter values', () => good(got).length >= after + 3);
    const path = statePath(lines);
    expect(path).toEqual(expect.arrayContaining(['reactivating', 'new_session', 'transferring', 'republishing', 'ready']));
    expect(path).not.toContain('recreating');
    assertNoGap(good(got));
  });

  test('a server restart: the subscription is created anew and readings resume', async () => {
    const { got, lines } = await subscribed({ sessionTimeout: 30_000 });
    await sim.crash();
    await waitFor('the tags to turn bad', () => got.of('counter').some((r) => r.quality === 'bad'));
    expect(['reconnecting', 'reactivating', 'new_session']).toContain(driver!.state);
    sim = await startOpcuaSim({ pkiDir: `${dir}/server`, port: sim.port });
    await waitFor('recovery', () => lines.some((l) => l.msg === 'opcua link recovered'), 15_000);
    const after = good(got).length;
    await waitFor('fresh counter values', () => good(got).length >= after + 3);
    expect(statePath(lines)).toEqual(expect.arrayContaining(['new_session', 'transferring', 'recreating', 'ready']));
    const last = got.readings[got.readings.length - 1];
    expect(last.quality).toBe('good');
  });

  test('while recovering, a server that refuses (a new certificate) becomes the tags\' error; a link merely still down does not', async () => {
    const { log } = capturingLogger();
    const d = device({
      endpoint: `opc.tcp://127.0.0.1:${proxy.port}`, pki_dir: `${dir}/pki-tofu`, security_mode: 'Sign', trust_on_first_use: true,
      tags: [counterTag],
    });
    driver = await createOpcuaDriver(d, { log, countRequest: noCount, dataDir: dir }, FAST);
    await driver.connect(AbortSignal.timeout(20_000));
    const got = collector();
    await driver.subscribe(d.tags, got.emit);
    await waitFor('first counter values', () => good(got).length >= 2);
    await sim.crash();
    // Several attempts against nothing (each failing its own way), then another server's certificate.
    await new Promise((r) => setTimeout(r, 2000));
    sim = await startOpcuaSim({ pkiDir: `${dir}/impostor`, port: sim.port });
    const errors = () => [...new Set(got.of('counter').filter((r) => r.quality === 'bad').map((r) => r.error))];
    await waitFor('the refusal as the tags\' error', () => errors().some((e) => /server certificate not trusted/.test(e ?? '')));
    expect(errors()).toEqual([expect.stringMatching(/^OPC UA link lost: /), expect.stringMatching(/^OPC UA link lost: server certificate not trusted/)]);
    await driver.close();
    await sim.close();
    sim = await startOpcuaSim({ pkiDir: `${dir}/server`, port: sim.port });
  });

  test('a poll-only device hands a lost link back to the scheduler: read() rejects, close() + connect() recovers', async () => {
    const { log } = capturingLogger();
    const d = oven([{ name: 'batch', node_id: 'ns=1;s=Oven.BatchId', mode: 'poll' }]);
    driver = await createOpcuaDriver(d, { log, countRequest: noCount, dataDir: dir }, FAST);
    await driver.connect(AbortSignal.timeout(20_000));
    const group = { key: '1000ms', interval: 1000, tags: d.tags };
    expect((await driver.read(group, AbortSignal.timeout(5000)))[0]).toMatchObject({ value: 'B-1042', quality: 'good' });
    await sim.crash();
    await waitFor('the link to break', () => driver!.state === 'broken');
    await expect(driver.read(group, AbortSignal.timeout(5000))).rejects.toThrow(/connection lost/);
    await driver.close();
    // Through the proxy a refused connection shows as one the far end dropped.
    await expect(driver.connect(AbortSignal.timeout(5000))).rejects.toThrow(/disconnected|ECONNREFUSED/);
    expect(driver.state).toBe('idle');
    sim = await startOpcuaSim({ pkiDir: `${dir}/server`, port: sim.port });
    await driver.connect(AbortSignal.timeout(20_000));
    expect((await driver.read(group, AbortSignal.timeout(5000)))[0]).toMatchObject({ value: 'B-1042', quality: 'good' });
  });

  test('a poll-only device on a half-open link: timeouts are bad readings, the third in a row hands the link to the scheduler', async () => {
    const { log } = capturingLogger();
    const d = oven([{ name: 'batch', node_id: 'ns=1;s=Oven.BatchId', mode: 'poll' }], 500);
    driver = await createOpcuaDriver(d, { log, countRequest: noCount, dataDir: dir }, FAST);
    await driver.connect(AbortSignal.timeout(20_000));
    const group = { key: '1000ms', interval: 1000, tags: d.tags };
    expect((await driver.read(group, AbortSignal.timeout(5000)))[0].quality).toBe('good');
    proxy.blackhole();
    for (let i = 0; i < 2; i++) {
      expect((await driver.read(group, AbortSignal.timeout(5000)))[0]).toMatchObject({ quality: 'bad', error: 'BadTimeout: no answer within 500 ms' });
    }
    await expect(driver.read(group, AbortSignal.timeout(5000))).rejects.toThrow(/connection lost/);
    expect(driver.state).toBe('broken');
  });
});
