/**
 * DeviceRunner.write(): writes queue on the device's own queue, never beside a poll. The
 * driver here is a stand-in that records when each request starts and ends (the runner is
 * what is under test).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ModbusTag, ModbusTcpDevice } from '../../drivers/modbus/schema.js';
import type { Driver, DriverModule, PollGroup, Reading } from '../../src/driver/contract.js';
import { Metrics } from '../../src/metrics.js';
import { DeviceRunner } from '../../src/scheduler/device-runner.js';
import { captureLog, until } from '../forward/setup.js';

const tag = (name: string): ModbusTag => ({
  name, area: 'holding', address: 0, type: 'uint16', byte_order: 'ABCD', poll_interval: 20, scale: 1, offset: 0, writable: true,
});
const device: ModbusTcpDevice = {
  name: 'dev', driver: 'modbus_tcp', host: '127.0.0.1', port: 1, unit_id: 1, byte_order: 'ABCD', max_registers_per_read: 125,
  max_bits_per_read: 2000, max_gap: 0, poll_interval: 20, timeout: 1000, tags: [tag('a'), tag('b')],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recordingModule(canWrite = true) {
  const events: string[] = [];
  let active = 0;
  let maxActive = 0;
  const request = async (what: string, ms: number) => {
    active++;
    maxActive = Math.max(maxActive, active);
    events.push(`${what} start`);
    await sleep(ms);
    events.push(`${what} end`);
    active--;
  };
  const driver: Driver = {
    connect: async () => {},
    read: async (group: PollGroup) => {
      await request('read', 15);
      return group.tags.map((t): Reading => ({ tag: t.name, value: 1, quality: 'good', ts: Date.now() }));
    },
    close: async () => {},
    ...(canWrite ? { write: async (t, value) => request(`write ${t.name}=${String(value)}`, 5) } : {}),
  };
  const module: DriverModule = { name: 'fake', schema: z.any() as never, create: async () => driver };
  return { module, events, maxActive: () => maxActive };
}

const runners: DeviceRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});

function runner(module: DriverModule): DeviceRunner {
  const r = new DeviceRunner({ device, module, log: captureLog().log, metrics: new Metrics(false), dataDir: '/nonexistent', emit: () => {} });
  runners.push(r);
  return r;
}

describe('DeviceRunner.write', () => {
  it('queues writes between polls, one request at a time, in the order asked', async () => {
    const rec = recordingModule();
    const r = runner(rec.module);
    r.start();
    await until(() => rec.events.includes('read end'), 2_000, 'a first poll');
    await Promise.all([1, 2, 3, 4, 5].map((v) => r.write(v % 2 ? 'a' : 'b', v)));
    await sleep(60);
    expect(rec.maxActive()).toBe(1);
    const writes = rec.events.filter((e) => e.startsWith('write') && e.endsWith('start'));
    expect(writes).toEqual(['write a=1 start', 'write b=2 start', 'write a=3 start', 'write b=4 start', 'write a=5 start']);
    // Polls went on around the writes.
    const lastWrite = rec.events.lastIndexOf('write a=5 end');
    expect(rec.events.slice(lastWrite).includes('read start')).toBe(true);
  });

  it('refuses while not connected, for unknown tags, and when the driver cannot write', async () => {
    const rec = recordingModule();
    const r = runner(rec.module);
    await expect(r.write('a', 1)).rejects.toThrow('device dev is not connected');
    r.start();
    await until(() => rec.events.includes('read end'), 2_000, 'a first poll');
    await expect(r.write('zz', 1)).rejects.toThrow('device dev has no tag "zz"');
    await r.stop();
    await expect(r.write('a', 1)).rejects.toThrow('not connected');

    const readOnly = recordingModule(false);
    const r2 = runner(readOnly.module);
    r2.start();
    await until(() => readOnly.events.includes('read end'), 2_000, 'a first poll');
    await expect(r2.write('a', 1)).rejects.toThrow('driver modbus_tcp cannot write');
  });
});
