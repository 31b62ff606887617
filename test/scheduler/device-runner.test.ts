/**
 * The scheduler against real Modbus TCP simulators over loopback sockets: poll rate, isolation
 * of a dead device, bad-once-per-transition, overruns, recovery.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { drivers, loadFloorgateConfigText } from '../../src/assembly.js';
import type { DeviceConfig } from '../../src/config/types.js';
import type { Reading } from '../../src/driver/contract.js';
import { Metrics } from '../../src/metrics.js';
import { DeviceRunner } from '../../src/scheduler/device-runner.js';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';

const log = pino({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function devices(yaml: string): DeviceConfig[] {
  const loaded = loadFloorgateConfigText(`gateway: { id: t, data_dir: /tmp/fg-unused }\nmqtt: { url: "mqtt://127.0.0.1:1" }\ndevices:\n${yaml}`, 'test.yaml', {});
  if (!loaded.ok) throw new Error(loaded.problems.map((p) => p.message).join('\n'));
  return [...loaded.config.devices];
}

const device = (name: string, port: number, extra = '') => `
  - name: ${name}
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${port}
    poll_interval: 100ms
    timeout: 300ms
    ${extra}
    tags:
      - { name: temperature, area: holding, address: 0, type: float32 }
      - { name: counter, area: holding, address: 2, type: uint32 }
`;

interface Emitted { device: string; at: number; readings: Reading[] }

function runner(config: DeviceConfig, metrics: Metrics, emitted: Emitted[]): DeviceRunner {
  const r = new DeviceRunner({
    device: config, module: drivers.of(config), log, metrics, dataDir: '/tmp',
    emit: (device, readings) => emitted.push({ device, at: performance.now(), readings }),
    reconnectMinMs: 100, reconnectMaxMs: 400,
  });
  cleanups.push(() => r.stop());
  r.start();
  return r;
}

async function sim(): Promise<ModbusSim> {
  const s = await startModbusSim({ port: 0 });
  cleanups.push(() => s.close());
  return s;
}

/** A port where nothing listens. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('device runner', () => {
  it('polls on its interval while a dead neighbour fails and backs off', async () => {
    const plc = await sim();
    const [live, dead] = devices(device('live', plc.port) + device('dead', await closedPort()));
    const metrics = new Metrics(false);
    const emitted: Emitted[] = [];
    const a = runner(live, metrics, emitted);
    const b = runner(dead, metrics, emitted);
    await wait(2_100);

    const liveBatches = emitted.filter((e) => e.device === 'live');
    // 100 ms interval over ~2 s: about 20 polls (allow for start-up and a busy machine).
    expect(liveBatches.length).toBeGreaterThanOrEqual(16);
    expect(liveBatches.length).toBeLessThanOrEqual(22);
    expect(liveBatches.every((e) => e.readings.every((r) => r.quality === 'good'))).toBe(true);
    // Ticks follow the monotonic schedule: the mean spacing is the interval.
    const spacing = (liveBatches.at(-1)!.at - liveBatches[1].at) / (liveBatches.length - 2);
    expect(spacing).toBeGreaterThan(90);
    expect(spacing).toBeLessThan(115);

    // The dead device reports each tag bad once, with the reason, despite many retries.
    const deadBatches = emitted.filter((e) => e.device === 'dead');
    expect(deadBatches).toHaveLength(1);
    expect(deadBatches[0].readings.map((r) => [r.tag, r.quality, r.value])).toEqual([
      ['temperature', 'bad', null], ['counter', 'bad', null],
    ]);
    expect(deadBatches[0].readings[0].error).toMatch(/connect failed: .*ECONNREFUSED/);
    expect(a.status()).toMatchObject({ up: true, error: null });
    expect(b.status()).toMatchObject({ up: false, last_ok_ts: null });
    expect(b.status().error).toMatch(/ECONNREFUSED/);
    expect(metrics.deviceUp.get({ device: 'live' })).toBe(1);
    expect(metrics.deviceUp.get({ device: 'dead' })).toBe(0);
    // Requests counted per device and driver are the requests the PLC answered (one read per poll).
    await a.stop();
    expect(metrics.deviceRequests.get({ device: 'live', driver: 'modbus_tcp' })).toBe(plc.requests());
    expect(plc.requests()).toBeGreaterThanOrEqual(16);
    expect(metrics.deviceRequests.get({ device: 'dead', driver: 'modbus_tcp' })).toBe(0);
  });

  it('a device that stops answering: bad once with the timeout, overruns counted, recovery published', async () => {
    const plc = await sim();
    const [config] = devices(device('press', plc.port));
    const metrics = new Metrics(false);
    const emitted: Emitted[] = [];
    const r = runner(config, metrics, emitted);
    await wait(500);
    expect(r.status().up).toBe(true);

    plc.setFault({ mode: 'silent' });
    await wait(1_500);
    const bad = emitted.filter((e) => e.readings.some((x) => x.quality === 'bad'));
    expect(bad.length).toBeGreaterThanOrEqual(1);
    // Once per transition: a tag goes bad in exactly one published reading.
    const badTemperature = emitted.flatMap((e) => e.readings).filter((x) => x.tag === 'temperature' && x.quality === 'bad');
    expect(badTemperature).toHaveLength(1);
    expect(badTemperature[0].error).toMatch(/timeout|connection lost/);
    expect(r.status().up).toBe(false);
    // 300 ms timeouts against a 100 ms interval: ticks found the poll still running.
    const overruns = metrics.pollOverruns.get({ device: 'press' }) ?? 0;
    expect(overruns).toBeGreaterThan(0);

    plc.setFault({});
    const before = emitted.length;
    await wait(2_000);
    const after = emitted.slice(before).flatMap((e) => e.readings);
    expect(after.some((x) => x.tag === 'temperature' && x.quality === 'good')).toBe(true);
    expect(r.status()).toMatchObject({ up: true, error: null });
  });

  it('report by exception: an unchanged value with deadband 0 is published once, then by heartbeat', async () => {
    const plc = await sim();
    // holding 10.. is the recipe string in the demo map: constant.
    const [config] = devices(`
  - name: press
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${plc.port}
    poll_interval: 50ms
    deadband: 0
    heartbeat: 400ms
    tags:
      - { name: recipe, area: holding, address: 10, type: string, length: 8 }
`);
    const emitted: Emitted[] = [];
    runner(config, new Metrics(false), emitted);
    await wait(1_000);
    // ~20 polls in 1 s, but published only at start and every 400 ms: 2–3 times.
    expect(emitted.length).toBeGreaterThanOrEqual(2);
    expect(emitted.length).toBeLessThanOrEqual(3);
    expect(plc.requests()).toBeGreaterThanOrEqual(15);
  });

  it('stop() ends polling promptly and leaves no request running', async () => {
    const plc = await sim();
    const [config] = devices(device('press', plc.port));
    const emitted: Emitted[] = [];
    const r = runner(config, new Metrics(false), emitted);
    await wait(300);
    const started = performance.now();
    await r.stop();
    expect(performance.now() - started).toBeLessThan(500);
    const requests = plc.requests();
    await wait(300);
    expect(plc.requests()).toBe(requests);
  });
});
