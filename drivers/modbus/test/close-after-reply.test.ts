/**
 * Some PLCs and serial gateways close the TCP connection after every reply. That is their way,
 * not a failure: floorgate opens a new connection for the next request, and the scheduler never
 * sees a lost link, so no tag goes bad and nothing is logged per poll. The device is pymodbus
 * (pymodbus_server.py --close-after-reply); the judge is what the scheduler emits and logs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { drivers, loadFloorgateConfigText } from '../../../src/assembly.js';
import type { Reading } from '../../../src/driver/contract.js';
import { Metrics } from '../../../src/metrics.js';
import { DeviceRunner } from '../../../src/scheduler/device-runner.js';
import { captureLog } from '../../../test/helpers/log.js';
import { pymodbusAvailable, startPymodbusServer } from './pymodbus-server.js';

const available = pymodbusAvailable('the close-after-reply test');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const POLL_MS = 200;
const POLLS = 10;

/** 11 tags in three reads per poll (holding, coil, discrete), laid out as pymodbus_server.py serves them. */
function config(port: number) {
  const loaded = loadFloorgateConfigText(`
gateway: { id: t, data_dir: /tmp/fg-unused }
mqtt: { url: "mqtt://127.0.0.1:1" }
devices:
  - name: gateway-plc
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${port}
    poll_interval: ${POLL_MS}ms
    timeout: 500ms
    tags:
      - { name: i16, area: holding, address: 0, type: int16 }
      - { name: u16, area: holding, address: 1, type: uint16 }
      - { name: i32, area: holding, address: 2, type: int32 }
      - { name: u32, area: holding, address: 4, type: uint32 }
      - { name: f32, area: holding, address: 6, type: float32 }
      - { name: f64, area: holding, address: 16, type: float64 }
      - { name: coil1, area: coil, address: 1, type: bool }
      - { name: coil2, area: coil, address: 2, type: bool }
      - { name: coil4, area: coil, address: 4, type: bool }
      - { name: di0, area: discrete, address: 0, type: bool }
      - { name: di3, area: discrete, address: 3, type: bool }
`, 'test.yaml', {});
  if (!loaded.ok) throw new Error(loaded.problems.map((p) => p.message).join('\n'));
  return loaded.config.devices[0];
}

describe.skipIf(!available)('a device that closes the connection after every reply', () => {
  it('is polled with no bad reading and no device down/up log', async () => {
    const server = await startPymodbusServer({ closeAfterReply: true });
    cleanups.push(() => server.close());
    const device = config(server.port);
    const capture = captureLog();
    const batches: Reading[][] = [];
    const runner = new DeviceRunner({
      device, module: drivers.of(device), log: capture.log, metrics: new Metrics(false), dataDir: '/tmp',
      emit: (_device, readings) => batches.push(readings),
    });
    cleanups.push(() => runner.stop());
    runner.start();
    await new Promise((r) => setTimeout(r, POLL_MS * POLLS + POLL_MS / 2));
    await runner.stop();

    const readings = batches.flat();
    expect(readings.filter((r) => r.quality === 'bad')).toEqual([]);
    const fullPolls = batches.filter((b) => b.length === device.tags.length && b.every((r) => r.quality === 'good'));
    expect(fullPolls.length).toBeGreaterThanOrEqual(POLLS - 2);
    const transitions = capture.lines().filter((l) => l.msg === 'device down' || l.msg === 'device up').map((l) => l.msg);
    expect(transitions).toEqual(['device up']);
    // The operator is told once why the connections come and go, not every poll.
    const told = capture.lines().filter((l) => l.level >= 30 && /closed the connection after replying/.test(l.msg));
    expect(told).toHaveLength(1);
  });
});
