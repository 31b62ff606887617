/**
 * Cross-check against an independent implementation: a pymodbus server (Debian's
 * /usr/bin/python3, pymodbus 3.0.0rc1) serving values laid out by pymodbus' own
 * BinaryPayloadBuilder in each byte order; the driver must decode every one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drivers, loadFloorgateConfigText } from '../../../src/assembly.js';
import type { ByteOrder, ModbusTag } from '../schema.js';
import { ModbusDriver } from '../driver.js';
import { openTcpLink } from '../tcp-link.js';
import { group, mtag, never, tcpDevice, testContext } from './helpers.js';
import { pymodbusAvailable, startPymodbusServer, type PymodbusServer } from './pymodbus-server.js';

const available = pymodbusAvailable('the pymodbus cross-check');

/** The block pymodbus_server.py writes at holding 100 × index of its byte order. */
const BLOCK: ReadonlyArray<[offset: number, tag: Partial<ModbusTag>, value: unknown]> = [
  [0, { type: 'int16' }, -1234],
  [1, { type: 'uint16' }, 54321],
  [2, { type: 'int32' }, -123456789],
  [4, { type: 'uint32' }, 3000000000],
  [6, { type: 'float32' }, 123.456], // as written, not its float64 neighbour 123.45600128173828
  [8, { type: 'int64' }, -1234567890123456789n],
  [12, { type: 'uint64' }, 18446744073709551000n],
  [16, { type: 'float64' }, -98765.4321],
  [20, { type: 'string', length: 5 }, 'FLOORGATE'],
];
const ORDERS: readonly ByteOrder[] = ['ABCD', 'BADC', 'CDAB', 'DCBA'];

describe.skipIf(!available)('pymodbus cross-check', () => {
  let server: PymodbusServer;
  let port: number;

  beforeAll(async () => {
    server = await startPymodbusServer();
    port = server.port;
  });

  afterAll(() => server?.close());

  it('decodes every type in every byte order the way pymodbus encoded it', async () => {
    const expected = new Map<string, unknown>();
    const tags: ModbusTag[] = [];
    ORDERS.forEach((order, i) => {
      for (const [offset, shape, value] of BLOCK) {
        // pymodbus packs strings high byte first whatever the byte order: compare where we agree.
        if (shape.type === 'string' && (order === 'BADC' || order === 'DCBA')) continue;
        const name = `${shape.type}_${order}`;
        tags.push(mtag({ name, area: 'holding', address: 100 * i + offset, byte_order: order, ...shape }));
        expected.set(name, value);
      }
    });
    tags.push(mtag({ name: 'input_int32', area: 'input', address: 2, type: 'int32' }));
    tags.push(mtag({ name: 'input_float64', area: 'input', address: 16, type: 'float64' }));
    expected.set('input_int32', -123456789).set('input_float64', -98765.4321);
    [false, true, true, false, true].forEach((v, a) => {
      tags.push(mtag({ name: `coil${a}`, area: 'coil', address: a }));
      expected.set(`coil${a}`, v);
    });
    [true, false, false, true].forEach((v, a) => {
      tags.push(mtag({ name: `di${a}`, area: 'discrete', address: a }));
      expected.set(`di${a}`, v);
    });

    const device = tcpDevice(port, tags);
    const ctx = testContext();
    const driver = new ModbusDriver(device, ctx, (signal) => openTcpLink(device, signal));
    try {
      await driver.connect(never);
      const readings = await driver.read(group(tags), never);
      for (const r of readings) expect(r.quality, `${r.tag}: ${r.error}`).toBe('good');
      expect(Object.fromEntries(readings.map((r) => [r.tag, r.value]))).toEqual(Object.fromEntries(expected));
      // Four holding blocks 100 registers apart, one input block, one coil and one discrete read.
      expect(ctx.requests).toBe(7);
    } finally {
      await driver.close();
    }
  });
});

describe.skipIf(!available)('a device addressed directly over TCP, answering unit 255 only', () => {
  let server: PymodbusServer;

  beforeAll(async () => {
    server = await startPymodbusServer({ unit: 255 });
  });

  afterAll(() => server?.close());

  /** The device as `floorgate run` gets it: through the config loader and the driver registry. */
  async function read(unitId: number) {
    const loaded = loadFloorgateConfigText(`
gateway: { id: t, data_dir: /tmp/fg-unused }
mqtt: { url: "mqtt://127.0.0.1:1" }
devices:
  - name: direct
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${server.port}
    unit_id: ${unitId}
    tags:
      - { name: counter, area: holding, address: 2, type: int32 }
`, 'test.yaml', {});
    if (!loaded.ok) throw new Error(loaded.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
    const device = loaded.config.devices[0];
    const driver = await drivers.of(device).create(device, testContext());
    try {
      await driver.connect(never);
      return await driver.read({ key: 'once', interval: device.poll_interval, tags: device.tags }, never);
    } finally {
      await driver.close();
    }
  }

  it('is read with unit_id: 255, and refuses unit 1', async () => {
    expect(await read(255)).toMatchObject([{ tag: 'counter', quality: 'good', value: -123456789 }]);
    expect(await read(1)).toMatchObject([{ quality: 'bad', error: expect.stringMatching(/^exception 11/) }]);
  });
});
