/**
 * The simulated PLC, checked with clients that are not floorgate's: modbus-serial's own client
 * and, where installed, mbpoll.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import modbusSerial from 'modbus-serial';
import type { ByteOrder, ModbusTag } from '../schema.js';
import { ModbusDriver } from '../driver.js';
import { openTcpLink } from '../tcp-link.js';
import { defaultSimMap, startModbusSim, type ModbusSim, type SimMap } from '../sim.js';
import { needTool } from '../../../test/helpers/tools.js';
import { group, mtag, never, sleep, tcpDevice, testContext } from './helpers.js';

type Client = InstanceType<typeof modbusSerial.default>;

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function sim(map?: SimMap | string): Promise<ModbusSim> {
  const s = await startModbusSim({ map });
  cleanup.push(() => s.close());
  return s;
}

async function client(port: number, timeout = 1000): Promise<Client> {
  const c = new modbusSerial.default();
  c.setTimeout(timeout);
  await c.connectTCP('127.0.0.1', { port });
  c.setID(1);
  cleanup.push(() => new Promise<void>((resolve) => c.destroy(() => resolve())));
  return c;
}

describe('the built-in map', () => {
  it('serves every tag of device press-1 in config/demo.yaml, with moving values', async () => {
    const demo = parse(fs.readFileSync(new URL('../../../config/demo.yaml', import.meta.url), 'utf8')) as {
      devices: Array<{ name: string; byte_order?: ByteOrder; tags: Array<Partial<ModbusTag> & Pick<ModbusTag, 'name' | 'area' | 'address'>> }>;
    };
    const press = demo.devices.find((d) => d.name === 'press-1')!;
    const tags = press.tags.map((t) => mtag({ ...t, byte_order: t.byte_order ?? press.byte_order ?? 'ABCD', poll_interval: 1000 }));
    const shape = (x: { type?: string; bit?: number; length?: number; byte_order?: string }, bitArea: boolean) => ({
      type: bitArea ? 'bool' : x.type ?? 'uint16', bit: x.bit ?? null, length: x.length ?? null, byte_order: bitArea ? null : x.byte_order ?? 'ABCD',
    });
    for (const t of tags) {
      const entry = defaultSimMap.tags.find((e) => e.area === t.area && e.address === t.address);
      expect(entry?.name, `sim entry for ${t.name}`).toBe(t.name);
      const bitArea = t.area === 'coil' || t.area === 'discrete';
      expect(shape(entry!, bitArea), t.name).toEqual(shape(t, bitArea));
    }

    const s = await sim();
    const device = tcpDevice(s.port, tags);
    const driver = new ModbusDriver(device, testContext(), (signal) => openTcpLink(device, signal));
    cleanup.push(() => driver.close());
    await driver.connect(never);
    const read = async () => Object.fromEntries((await driver.read(group(tags), never)).map((r) => {
      expect(r.quality, r.tag).toBe('good');
      return [r.tag, r.value];
    }));
    const first = await read();
    await sleep(1100);
    const second = await read();
    expect(first).toMatchObject({ recipe: 'PRESS-FORM-A17', setpoint: 22.5 });
    expect(first.pressure as number).toBeGreaterThanOrEqual(85);
    expect(first.pressure as number).toBeLessThanOrEqual(115);
    for (const name of ['temperature', 'counter', 'energy', 'position', 'speed', 'flow']) {
      expect(second[name], name).not.toEqual(first[name]);
    }
  });
});

describe('requests and function codes', () => {
  it('counts one request per request, per function code', async () => {
    const s = await sim({ tags: [{ area: 'holding', address: 0, value: 7 }, { area: 'coil', address: 0, value: true }] });
    const c = await client(s.port);
    expect((await c.readHoldingRegisters(0, 3)).data).toEqual([7, 0, 0]);
    await c.readHoldingRegisters(0, 1);
    await c.readInputRegisters(10, 20);
    expect((await c.readCoils(0, 16)).data.slice(0, 2)).toEqual([true, false]);
    await c.readDiscreteInputs(0, 9);
    await c.writeRegister(5, 1);
    await c.writeRegisters(6, [1, 2, 3]);
    await c.writeCoil(1, true);
    await c.writeCoils(2, [true, false, true]);
    expect([1, 2, 3, 4, 5, 6, 15, 16].map((fc) => s.requests(fc))).toEqual([1, 1, 2, 1, 1, 1, 1, 1]);
    expect(s.requests()).toBe(9);
  });

  it('holds what a client writes: the written entry stops moving', async () => {
    const s = await sim({ tags: [{ area: 'holding', address: 0, type: 'uint32', counter: { step: 1, every: 10 } }] });
    const c = await client(s.port);
    await c.writeRegisters(0, [0, 1234]);
    await sleep(40);
    expect((await c.readHoldingRegisters(0, 2)).data).toEqual([0, 1234]);
  });
});

describe('fault injection', () => {
  it('answers exception 02 for illegal addresses, 03 or 04 for reads that are too long', async () => {
    const s = await sim({ tags: [] });
    const c = await client(s.port);
    s.setFault({ illegal: { holding: [10], coil: [3] }, maxRegistersPerRead: 8 });
    await expect(c.readHoldingRegisters(5, 6)).rejects.toMatchObject({ modbusCode: 2 });
    await expect(c.readHoldingRegisters(11, 5)).resolves.toBeDefined();
    await expect(c.readCoils(0, 8)).rejects.toMatchObject({ modbusCode: 2 });
    await expect(c.readInputRegisters(0, 9)).rejects.toMatchObject({ modbusCode: 3 });
    await expect(c.writeRegister(10, 1)).rejects.toMatchObject({ modbusCode: 2 });
    s.setFault({ maxRegistersPerRead: 8, tooLongException: 4 });
    await expect(c.readHoldingRegisters(0, 9)).rejects.toMatchObject({ modbusCode: 4 });
    s.setFault({});
    await expect(c.readHoldingRegisters(0, 100)).resolves.toBeDefined();
  });

  it('silent: takes requests and never answers', async () => {
    const s = await sim({ tags: [] });
    const c = await client(s.port, 200);
    s.setFault({ mode: 'silent' });
    await expect(c.readHoldingRegisters(0, 2)).rejects.toMatchObject({ message: 'Timed out' });
    expect(s.requests(3)).toBe(1);
  });

  it('garbage: answers with bytes that are not Modbus', async () => {
    const s = await sim({ tags: [] });
    s.setFault({ mode: 'garbage' });
    const sock = net.connect(s.port, '127.0.0.1');
    cleanup.push(() => { sock.destroy(); });
    await new Promise((resolve) => sock.once('connect', resolve));
    const got = new Promise<Buffer>((resolve) => sock.once('data', resolve));
    sock.write(Buffer.from([0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2]));
    expect((await got).toString('latin1')).toBe('this is not modbus\r\n');
  });
});

describe('maps from files', () => {
  it('loads YAML (or JSON) and reports every problem with its path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-sim-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const good = path.join(dir, 'plc.yaml');
    fs.writeFileSync(good, [
      'tags:',
      '  - { area: holding, address: 3, type: int32, byte_order: DCBA, value: -5 }',
      '  - { area: input, address: 0, type: string, length: 2, value: "OK" }',
    ].join('\n'));
    const s = await sim(good);
    const c = await client(s.port);
    expect((await c.readHoldingRegisters(3, 2)).data).toEqual([0xfbff, 0xffff]);
    expect((await c.readInputRegisters(0, 2)).data).toEqual([0x4f4b, 0]);

    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ tags: [{ area: 'holding', address: 0, type: 'int16', value: 40000 }, { area: 'holding', address: 1, sine: { amplitude: 1 } }] }));
    await expect(startModbusSim({ map: bad })).rejects.toThrow(/tags\.1\.sine\.period/);
    fs.writeFileSync(bad, JSON.stringify({ tags: [{ area: 'holding', address: 0, type: 'int16', value: 40000 }] }));
    await expect(startModbusSim({ map: bad })).rejects.toThrow(/tags\.0\.value: value 40000 is out of range for int16/);
    fs.writeFileSync(bad, JSON.stringify({ tags: [{ area: 'holding', address: 0, value: 1, counter: {} }] }));
    await expect(startModbusSim({ map: bad })).rejects.toThrow(/exactly one of value, counter, sine, random_walk/);
  });
});

const mbpoll = ['/usr/bin/mbpoll', '/usr/local/bin/mbpoll'].find((p) => fs.existsSync(p));
needTool('mbpoll', mbpoll !== undefined, 'the cross-check with mbpoll');

describe.skipIf(!mbpoll)('cross-check with mbpoll (1-based register numbers)', () => {
  const poll = (port: number, ...args: string[]) => new Promise<string[]>((resolve, reject) => {
    execFile(mbpoll!, ['-m', 'tcp', '-p', String(port), '-1', '-o', '2', ...args, '127.0.0.1'], { timeout: 10_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.split('\n').filter((l) => l.startsWith('[')).map((l) => l.replace(/\s+/g, ' ')));
    });
  });

  it('reads what the map says', async () => {
    const s = await sim({
      tags: [
        { area: 'holding', address: 0, type: 'float32', value: 123.456 },
        { area: 'holding', address: 2, type: 'int32', value: -123456789 },
        { area: 'holding', address: 4, type: 'int16', value: -1234 },
        { area: 'input', address: 9, type: 'float32', byte_order: 'CDAB', value: -2.5 },
        { area: 'coil', address: 1, value: true },
        { area: 'discrete', address: 2, value: true },
      ],
    });
    expect(await poll(s.port, '-t', '4:float', '-B', '-r', '1')).toEqual(['[1]: 123.456']);
    expect(await poll(s.port, '-t', '4:int', '-B', '-r', '3')).toEqual(['[3]: -123456789']);
    expect(await poll(s.port, '-t', '4', '-r', '5')).toEqual(['[5]: 64302 (-1234)']);
    // mbpoll's default word order is the low register first: CDAB.
    expect(await poll(s.port, '-t', '3:float', '-r', '10')).toEqual(['[10]: -2.5']);
    expect(await poll(s.port, '-t', '0', '-r', '1', '-c', '3')).toEqual(['[1]: 0', '[2]: 1', '[3]: 0']);
    expect(await poll(s.port, '-t', '1', '-r', '3')).toEqual(['[3]: 1']);
  });
});
