/**
 * Write commands end to end: MQTT `…/set` → the runtime → the device's runner → the Modbus
 * driver → the simulator, read back with modbus-serial's own client (not floorgate's driver),
 * and the refusals: non-writable, unknown, wrong type, out of range, retained, oversize, flood.
 */
import fs from 'node:fs';
import modbusSerial from 'modbus-serial';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';
import { startBroker, type Broker } from '../helpers/broker.js';
import { tempDir } from '../helpers/gateway.js';
import { until } from '../forward/setup.js';
import { connectScada, startGateway, type Gateway, type Scada } from './setup.js';

type ModbusClient = InstanceType<typeof modbusSerial.default>;

const BASE = 'fg/gw-cmd/press';
let broker: Broker;
let sim: ModbusSim;
let gw: Gateway;
let plc: ModbusClient;
let scada: Scada;
let dir: string;

beforeAll(async () => {
  dir = tempDir('floorgate-commands-');
  broker = await startBroker();
  sim = await startModbusSim({
    map: {
      tags: [
        { name: 'setpoint', area: 'holding', address: 0, type: 'float32', value: 22.5 },
        { name: 'speed', area: 'holding', address: 2, type: 'uint16', value: 100 },
        { name: 'locked', area: 'holding', address: 14, type: 'uint16', value: 7 },
      ],
    },
  });
  scada = await connectScada(broker.url, BASE, ['fg/gw-cmd/nope/+/set/result']);
  // Left on the broker before the gateway connects: delivered to it flagged retained.
  await scada.client.publishAsync(`${BASE}/speed/set`, '999', { qos: 1, retain: true });

  gw = await startGateway(`
gateway: { id: gw-cmd, data_dir: ${dir}/data }
log: { level: debug }
mqtt: { url: "${broker.url}", topic_prefix: fg, keepalive: 2s, reconnect_min: 100ms, reconnect_max: 500ms }
buffer: { commit_interval: 20ms }
http: { listen: false }
devices:
  - name: press
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${sim.port}
    poll_interval: 100ms
    timeout: 500ms
    tags:
      - { name: setpoint, area: holding, address: 0, type: float32, writable: true, deadband: 0 }
      - { name: speed, area: holding, address: 2, type: uint16, writable: true, deadband: 0 }
      - { name: total, area: holding, address: 4, type: uint64, writable: true, deadband: 0 }
      - { name: recipe, area: holding, address: 8, type: string, length: 4, writable: true, deadband: 0 }
      - { name: mode, area: holding, address: 12, type: bool, bit: 3, writable: true, deadband: 0 }
      - { name: scaled, area: holding, address: 13, type: int16, scale: 0.1, writable: true, deadband: 0 }
      - { name: locked, area: holding, address: 14, type: uint16, deadband: 0 }
      - { name: running, area: coil, address: 0, type: bool, writable: true, deadband: 0 }
`, `${dir}/floorgate.yaml`);

  plc = new modbusSerial.default();
  plc.setTimeout(1000);
  await plc.connectTCP('127.0.0.1', { port: sim.port });
  plc.setID(1);
  await until(() => scada.data.some((d) => d.tag === 'setpoint'), 10_000, 'the first readings upstream');
});

afterAll(async () => {
  await gw?.runtime.stop();
  await new Promise<void>((resolve) => (plc ? plc.close(() => resolve()) : resolve()));
  await scada?.close();
  await sim?.close();
  await broker?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function holding(address: number, count: number): Promise<number[]> {
  return (await plc.readHoldingRegisters(address, count)).data;
}

function float32(regs: number[]): number {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(regs[0], 0);
  b.writeUInt16BE(regs[1], 2);
  return b.readFloatBE(0);
}

describe('write commands (JSON)', () => {
  it('ignores the retained command it found on connecting, and answers it', async () => {
    await until(() => scada.results.some((r) => r.topic === `${BASE}/speed/set/result`), 5_000, 'the answer to the retained command');
    expect(scada.results.find((r) => r.topic === `${BASE}/speed/set/result`)!.body).toMatchObject({ ok: false, error: expect.stringContaining('retained') });
    expect(await holding(2, 1)).toEqual([100]);
    await scada.client.publishAsync(`${BASE}/speed/set`, '', { qos: 1, retain: true });
  });

  it('writes every kind of tag into the PLC; the value reads back from the PLC and comes upstream', async () => {
    expect(await scada.command('setpoint', '{"value": 42.5, "id": "req-1"}')).toMatchObject({ ok: true, value: 42.5, id: 'req-1', ts: expect.any(Number) });
    expect(float32(await holding(0, 2))).toBe(42.5);
    expect(await scada.command('speed', '1234')).toMatchObject({ ok: true, value: 1234 });
    expect(await holding(2, 1)).toEqual([1234]);
    expect(await scada.command('total', '"18446744073709551615"')).toMatchObject({ ok: true, value: '18446744073709551615' });
    expect(await holding(4, 4)).toEqual([0xffff, 0xffff, 0xffff, 0xffff]);
    expect(await scada.command('recipe', '"XY"')).toMatchObject({ ok: true });
    expect(await holding(8, 2)).toEqual([0x5859, 0]);
    expect(await scada.command('mode', 'true')).toMatchObject({ ok: true });
    expect((await holding(12, 1))[0] & 0b1000).toBe(0b1000);
    expect(await scada.command('scaled', '{"value": -12.3, "id": 7}')).toMatchObject({ ok: true, id: 7 });
    expect((await holding(13, 1))[0]).toBe(0x10000 - 123);
    expect(await scada.command('running', '1')).toMatchObject({ ok: true, value: true });
    expect((await plc.readCoils(0, 1)).data[0]).toBe(true);
    // The gateway's own polls read the new values back and publish them.
    await until(() => scada.data.some((d) => d.tag === 'setpoint' && d.value === 42.5) && scada.data.some((d) => d.tag === 'speed' && d.value === 1234), 5_000, 'the new values upstream');
  });

  it('refuses, with the reason, what must not be written; the PLC is left alone', async () => {
    expect(await scada.command('locked', '9')).toMatchObject({ ok: false, error: 'tag press/locked is not writable (it needs writable: true)' });
    expect(await scada.command('ghost', '1')).toMatchObject({ ok: false, error: 'device press has no tag "ghost"' });
    expect(await scada.command('x', '1', 'nope')).toMatchObject({ ok: false, error: 'unknown device "nope"' });
    expect(await scada.command('speed', '"fast"')).toMatchObject({ ok: false, error: 'tag speed is uint16: expected a number, got "fast"' });
    expect(await scada.command('speed', '70000')).toMatchObject({ ok: false, error: expect.stringContaining('out of range for uint16') });
    expect(await scada.command('speed', 'not json')).toMatchObject({ ok: false, error: expect.stringContaining('payload is not JSON') });
    expect(await scada.command('speed', '{"id": "a"}')).toMatchObject({ ok: false, id: 'a', error: expect.stringContaining('needs a "value" member') });
    expect(await scada.command('speed', Buffer.alloc(5000, 0x31))).toMatchObject({ ok: false, error: 'payload of 5000 bytes exceeds the 4096-byte limit' });
    expect(await holding(14, 1)).toEqual([7]);
    expect(await holding(2, 1)).toEqual([1234]);
    const text = gw.capture.text();
    expect(text).toContain('command refused: tag press/locked is not writable');
    expect(gw.metrics.registry.render()).toMatch(/^floorgate_write_commands_total\{result="refused"\} (9|1\d)$/m);
  });

  it('refuses a flood beyond 10 commands a second with an error result each, every one carrying its id', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    const before = scada.results.length;
    await Promise.all(Array.from({ length: 40 }, (_, i) => scada.client.publishAsync(`${BASE}/speed/set`, `{"value": ${i}, "id": "burst-${i}"}`, { qos: 1 })));
    await until(() => scada.results.length - before >= 40, 5_000, '40 answers');
    const answers = scada.results.slice(before).map((r) => r.body);
    const limited = answers.filter((a) => a.ok === false && String(a.error).startsWith('rate limit'));
    const done = answers.filter((a) => a.ok === true);
    expect(done.length).toBeGreaterThanOrEqual(10);
    expect(done.length).toBeLessThanOrEqual(15);
    expect(limited.length).toBe(40 - done.length);
    // The SCADA side correlates by id: each command answered once, refusals included.
    expect(answers.map((a) => a.id).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `burst-${i}`).sort());
  });

});
