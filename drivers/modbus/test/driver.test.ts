/**
 * The Modbus TCP driver against the simulator, over real sockets on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ModbusTag, ModbusTcpDevice } from '../schema.js';
import type { Reading } from '../../../src/driver/contract.js';
import { ModbusDriver, type ModbusDriverOptions } from '../driver.js';
import { openTcpLink } from '../tcp-link.js';
import { startModbusSim, type ModbusSim, type SimMap } from '../sim.js';
import { group, mtag, never, sleep, tcpDevice, testContext } from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function sim(map: SimMap, opts: { port?: number } = {}): Promise<ModbusSim> {
  const s = await startModbusSim({ map, ...opts });
  open.push(s);
  return s;
}

async function driverFor(device: ModbusTcpDevice, options?: ModbusDriverOptions) {
  const ctx = testContext();
  const driver = new ModbusDriver(device, ctx, (signal) => openTcpLink(device, signal), options);
  open.push(driver);
  await driver.connect(never);
  return { driver, ctx };
}

const byTag = (readings: Reading[]) => Object.fromEntries(readings.map((r) => [r.tag, r]));
const values = (readings: Reading[]) => Object.fromEntries(readings.map((r) => [r.tag, r.value]));

/** n uint16 tags at consecutive addresses, each holding its own address × 10. */
function ladder(n: number): { map: SimMap; tags: ModbusTag[] } {
  return {
    map: { tags: Array.from({ length: n }, (_, a) => ({ area: 'holding' as const, address: a, value: a * 10 })) },
    tags: Array.from({ length: n }, (_, a) => mtag({ name: `r${a}`, area: 'holding', address: a })),
  };
}

describe('reading every type', () => {
  it('decodes all types, byte orders and areas the simulator encodes, in the planned number of requests', async () => {
    const s = await sim({
      tags: [
        { area: 'holding', address: 0, type: 'float32', value: 123.456 },
        { area: 'holding', address: 2, type: 'float32', byte_order: 'CDAB', value: -0.5 },
        { area: 'holding', address: 4, type: 'int32', byte_order: 'BADC', value: -123456789 },
        { area: 'holding', address: 6, type: 'uint32', byte_order: 'DCBA', value: 3000000000 },
        { area: 'holding', address: 8, type: 'int16', value: -1234 },
        { area: 'holding', address: 9, type: 'uint16', byte_order: 'DCBA', value: 54321 },
        { area: 'holding', address: 10, type: 'int64', byte_order: 'CDAB', value: -1234567890123 },
        { area: 'holding', address: 14, type: 'uint64', value: 2 ** 60 },
        { area: 'holding', address: 18, type: 'float64', byte_order: 'DCBA', value: -98765.4321 },
        { area: 'holding', address: 22, type: 'string', length: 5, value: 'FLOORGATE' },
        { area: 'holding', address: 27, type: 'string', length: 3, byte_order: 'BADC', value: 'ABCDE' },
        { area: 'holding', address: 30, type: 'bool', bit: 3, value: true },
        { area: 'holding', address: 30, type: 'bool', bit: 4, value: false },
        { area: 'holding', address: 31, type: 'bool', value: true },
        { area: 'input', address: 100, type: 'float32', byte_order: 'BADC', value: 6.25 },
        { area: 'coil', address: 7, value: true },
        { area: 'coil', address: 8, value: false },
        { area: 'discrete', address: 3, value: true },
      ],
    });
    const tags = [
      mtag({ name: 'f32', area: 'holding', address: 0, type: 'float32' }),
      mtag({ name: 'f32_cdab', area: 'holding', address: 2, type: 'float32', byte_order: 'CDAB' }),
      mtag({ name: 'i32_badc', area: 'holding', address: 4, type: 'int32', byte_order: 'BADC' }),
      mtag({ name: 'u32_dcba', area: 'holding', address: 6, type: 'uint32', byte_order: 'DCBA' }),
      mtag({ name: 'i16', area: 'holding', address: 8, type: 'int16' }),
      mtag({ name: 'u16_dcba', area: 'holding', address: 9, type: 'uint16', byte_order: 'DCBA' }),
      mtag({ name: 'i64_cdab', area: 'holding', address: 10, type: 'int64', byte_order: 'CDAB' }),
      mtag({ name: 'u64', area: 'holding', address: 14, type: 'uint64' }),
      mtag({ name: 'f64_dcba', area: 'holding', address: 18, type: 'float64', byte_order: 'DCBA' }),
      mtag({ name: 'text', area: 'holding', address: 22, type: 'string', length: 5 }),
      mtag({ name: 'text_badc', area: 'holding', address: 27, type: 'string', length: 3, byte_order: 'BADC' }),
      mtag({ name: 'bit3', area: 'holding', address: 30, type: 'bool', bit: 3 }),
      mtag({ name: 'bit4', area: 'holding', address: 30, type: 'bool', bit: 4 }),
      mtag({ name: 'nonzero', area: 'holding', address: 31, type: 'bool' }),
      mtag({ name: 'scaled', area: 'holding', address: 8, type: 'int16', scale: 0.1, offset: 100 }),
      mtag({ name: 'in_f32', area: 'input', address: 100, type: 'float32', byte_order: 'BADC' }),
      mtag({ name: 'coil7', area: 'coil', address: 7 }),
      mtag({ name: 'coil8', area: 'coil', address: 8 }),
      mtag({ name: 'di3', area: 'discrete', address: 3 }),
    ];
    const { driver, ctx } = await driverFor(tcpDevice(s.port, tags));
    const t0 = Date.now();
    const readings = await driver.read(group(tags), never);

    expect(readings.map((r) => r.tag)).toEqual(tags.map((t) => t.name));
    for (const r of readings) {
      expect(r.quality).toBe('good');
      expect(r.ts).toBeGreaterThanOrEqual(t0);
    }
    const v = values(readings);
    expect(v).toMatchObject({
      f32: 123.456, f32_cdab: -0.5, i32_badc: -123456789, u32_dcba: 3000000000, i16: -1234,
      u16_dcba: 54321, i64_cdab: -1234567890123, u64: 1152921504606846976n, f64_dcba: -98765.4321,
      text: 'FLOORGATE', text_badc: 'ABCDE', bit3: true, bit4: false, nonzero: true,
      in_f32: 6.25, coil7: true, coil8: false, di3: true,
    });
    expect(v.scaled).toBeCloseTo(-23.4, 10);
    // One read per area: holding 0..31, input 100..101, coil 7..8, discrete 3.
    expect(s.requests()).toBe(4);
    expect([s.requests(3), s.requests(4), s.requests(1), s.requests(2)]).toEqual([1, 1, 1, 1]);
    expect(ctx.requests).toBe(4);
  });

  it('sees values move between polls', async () => {
    const s = await sim({
      tags: [
        { area: 'holding', address: 0, type: 'uint32', counter: { step: 1, every: 50 } },
        { area: 'holding', address: 2, type: 'float32', sine: { amplitude: 10, period: 400 } },
      ],
    });
    const tags = [mtag({ name: 'n', area: 'holding', address: 0, type: 'uint32' }), mtag({ name: 'wave', area: 'holding', address: 2, type: 'float32' })];
    const { driver } = await driverFor(tcpDevice(s.port, tags));
    const first = values(await driver.read(group(tags), never));
    await sleep(130);
    const second = values(await driver.read(group(tags), never));
    expect(second.n as number).toBeGreaterThanOrEqual((first.n as number) + 2);
    expect(second.wave).not.toBe(first.wave);
    expect(Math.abs(second.wave as number)).toBeLessThanOrEqual(10);
  });

  it('sends the planned requests: max_gap and max_registers_per_read decide how many', async () => {
    const { map } = ladder(0);
    const s = await sim(map);
    // Blocks at 0..1, 10, 40..43 and 300: gaps of 8, 29 and 256 registers.
    const tags = [
      mtag({ name: 'a', area: 'holding', address: 0, type: 'float32' }),
      mtag({ name: 'b', area: 'holding', address: 10 }),
      mtag({ name: 'c', area: 'holding', address: 40, type: 'float64' }),
      mtag({ name: 'd', area: 'holding', address: 300 }),
    ];
    const cases: Array<[Partial<ModbusTcpDevice>, number]> = [
      [{ max_gap: 8 }, 3],
      [{ max_gap: 7 }, 4],
      [{ max_gap: 30 }, 2],
      [{ max_gap: 30, max_registers_per_read: 40 }, 3],
    ];
    for (const [over, expected] of cases) {
      const { driver, ctx } = await driverFor(tcpDevice(s.port, tags, over));
      const before = s.requests(3);
      const readings = await driver.read(group(tags), never);
      expect(readings.every((r) => r.quality === 'good')).toBe(true);
      expect(s.requests(3) - before).toBe(expected);
      expect(ctx.requests).toBe(expected);
    }
  });
});

describe('exception 02: splitting a block', () => {
  const quick: ModbusDriverOptions = { quarantineMinMs: 200, quarantineMaxMs: 1000 };

  it('marks only the illegal tag bad, quarantines it and retries it until it answers', async () => {
    const { map, tags } = ladder(10);
    const s = await sim(map);
    s.setFault({ illegal: { holding: [5] } });
    const { driver } = await driverFor(tcpDevice(s.port, tags), quick);

    const first = byTag(await driver.read(group(tags), never));
    expect(first.r5).toMatchObject({ quality: 'bad', value: null, error: 'exception 2 (illegal data address)' });
    for (const t of tags.filter((x) => x.name !== 'r5')) expect(first[t.name]).toMatchObject({ quality: 'good', value: t.address * 10 });

    // Learned: two reads around register 5, and r5 itself waits out its quarantine untouched.
    let before = s.requests();
    const second = byTag(await driver.read(group(tags), never));
    expect(s.requests() - before).toBe(2);
    expect(second.r5).toMatchObject({ quality: 'bad', error: 'exception 2 (illegal data address)' });
    expect(second.r9).toMatchObject({ quality: 'good', value: 90 });

    // Still broken at the first retry: the retry is one lone request, then the wait doubles.
    await sleep(220);
    before = s.requests();
    expect(byTag(await driver.read(group(tags), never)).r5.quality).toBe('bad');
    expect(s.requests() - before).toBe(3);
    await sleep(100);
    before = s.requests();
    await driver.read(group(tags), never);
    expect(s.requests() - before).toBe(2); // the doubled 400 ms wait is not over yet

    // The "firmware fix": r5 answers at the next retry and rejoins one merged read.
    s.setFault({});
    await sleep(320);
    expect(byTag(await driver.read(group(tags), never)).r5).toMatchObject({ quality: 'good', value: 50 });
    before = s.requests();
    const merged = await driver.read(group(tags), never);
    expect(s.requests() - before).toBe(1);
    expect(merged.every((r) => r.quality === 'good')).toBe(true);
  });

  it('reads around an illegal gap address without marking any tag bad', async () => {
    const { map } = ladder(10);
    const s = await sim(map);
    s.setFault({ illegal: { holding: [4, 5] } });
    const tags = [0, 1, 2, 3, 6, 7, 8, 9].map((a) => mtag({ name: `r${a}`, area: 'holding', address: a }));
    const { driver } = await driverFor(tcpDevice(s.port, tags), quick);

    const first = await driver.read(group(tags), never);
    expect(first.every((r) => r.quality === 'good')).toBe(true);
    expect(values(first)).toMatchObject({ r3: 30, r6: 60 });
    const before = s.requests();
    expect((await driver.read(group(tags), never)).every((r) => r.quality === 'good')).toBe(true);
    expect(s.requests() - before).toBe(2);
  });

  it('forgets the gaps it learned to avoid once a quarantined tag answers again', async () => {
    const { map } = ladder(10);
    const s = await sim(map);
    s.setFault({ illegal: { holding: [5] } });
    const tags = [0, 1, 2, 5, 8, 9].map((a) => mtag({ name: `r${a}`, area: 'holding', address: a }));
    const { driver } = await driverFor(tcpDevice(s.port, tags), quick);
    expect(byTag(await driver.read(group(tags), never)).r5.quality).toBe('bad');
    // Gaps 3..4 and 6..7 were never read successfully: the plan avoids them.
    let before = s.requests();
    await driver.read(group(tags), never);
    expect(s.requests() - before).toBe(2);

    s.setFault({});
    await sleep(220);
    expect(byTag(await driver.read(group(tags), never)).r5).toMatchObject({ quality: 'good', value: 50 });
    before = s.requests();
    expect((await driver.read(group(tags), never)).every((r) => r.quality === 'good')).toBe(true);
    expect(s.requests() - before).toBe(1);
  });

  it('finds several illegal tags in one block', async () => {
    const { map, tags } = ladder(16);
    const s = await sim(map);
    s.setFault({ illegal: { holding: [2, 3, 11] } });
    const { driver } = await driverFor(tcpDevice(s.port, tags), quick);
    const readings = await driver.read(group(tags), never);
    expect(readings.filter((r) => r.quality === 'bad').map((r) => r.tag)).toEqual(['r2', 'r3', 'r11']);
    expect(readings.filter((r) => r.quality === 'good')).toHaveLength(13);
  });
});

describe('exceptions 03/04 to long reads', () => {
  for (const code of [3, 4] as const) {
    it(`learns a smaller maximum from exception 0${code} and keeps every value`, async () => {
      const { map, tags } = ladder(10);
      const s = await sim(map);
      s.setFault({ maxRegistersPerRead: 4, tooLongException: code });
      const { driver } = await driverFor(tcpDevice(s.port, tags));

      const first = await driver.read(group(tags), never);
      expect(first.every((r) => r.quality === 'good')).toBe(true);
      expect(values(first)).toMatchObject({ r0: 0, r4: 40, r9: 90 });

      // Halved 10 → 5 → 2: five reads of at most two registers, none refused.
      const before = s.requests();
      const again = await driver.read(group(tags), never);
      expect(again.every((r) => r.quality === 'good')).toBe(true);
      expect(s.requests() - before).toBe(5);
    });
  }

  it('reports exception 03 on a read that cannot get shorter', async () => {
    const s = await sim({ tags: [{ area: 'holding', address: 0, type: 'float64', value: 1.5 }] });
    s.setFault({ maxRegistersPerRead: 2 });
    const tags = [mtag({ name: 'f64', area: 'holding', address: 0, type: 'float64' })];
    const { driver } = await driverFor(tcpDevice(s.port, tags));
    expect(byTag(await driver.read(group(tags), never)).f64).toMatchObject({ quality: 'bad', error: 'exception 3 (illegal data value)' });
  });
});

describe('a device that stops answering', () => {
  it('gives timeouts as bad readings, waiting for one timeout only, and recovers on the same connection', async () => {
    const { map } = ladder(0);
    const s = await sim(map);
    // Three requests per poll (gaps too wide to merge).
    const tags = [0, 100, 200].map((a) => mtag({ name: `r${a}`, area: 'holding', address: a }));
    const { driver } = await driverFor(tcpDevice(s.port, tags, { timeout: 250, max_gap: 0 }));
    s.setFault({ mode: 'silent' });
    const t0 = Date.now();
    const readings = await driver.read(group(tags), never);
    const took = Date.now() - t0;
    for (const r of readings) expect(r).toMatchObject({ quality: 'bad', value: null, error: 'timeout after 250 ms' });
    expect(took).toBeGreaterThanOrEqual(240);
    expect(took).toBeLessThan(700);
    expect(s.requests()).toBe(1);

    s.setFault({});
    expect((await driver.read(group(tags), never)).every((r) => r.quality === 'good')).toBe(true);
  });

  it('rejects read() at once when the device closes the connection, and reconnects', async () => {
    const { map, tags } = ladder(3);
    const first = await startModbusSim({ map });
    const { driver } = await driverFor(tcpDevice(first.port, tags, { timeout: 5000 }));
    expect((await driver.read(group(tags), never)).every((r) => r.quality === 'good')).toBe(true);

    // The device goes quiet mid-request and then drops the connection.
    first.setFault({ mode: 'silent' });
    const pending = driver.read(group(tags), never);
    await sleep(100);
    const t0 = Date.now();
    await first.close();
    await expect(pending).rejects.toThrow(/connection closed by the device|socket error/);
    expect(Date.now() - t0).toBeLessThan(1000); // not the 5 s request timeout
    await expect(driver.read(group(tags), never)).rejects.toThrow(/connection closed by the device|socket error/);

    // Nothing listening: connect says why.
    await expect(driver.connect(never)).rejects.toThrow(`cannot connect to 127.0.0.1:${first.port}: ECONNREFUSED`);
    // The PLC is back on the same port.
    await sim(map, { port: first.port });
    await driver.connect(never);
    expect(values(await driver.read(group(tags), never))).toEqual({ r0: 0, r1: 10, r2: 20 });
  });

  it('rejects read() when the PLC starts sending garbage, and reads again after reconnecting', async () => {
    const { map, tags } = ladder(3);
    const s = await sim(map);
    const { driver } = await driverFor(tcpDevice(s.port, tags, { timeout: 5000 }));
    s.setFault({ mode: 'garbage' });
    const t0 = Date.now();
    await expect(driver.read(group(tags), never)).rejects.toThrow(/not Modbus TCP \(protocol id 0x6973/);
    expect(Date.now() - t0).toBeLessThan(1000);
    s.setFault({});
    await driver.close();
    await driver.connect(never);
    expect(values(await driver.read(group(tags), never))).toEqual({ r0: 0, r1: 10, r2: 20 });
  });

  it('gives up connecting on abort; read() before connect says so', async () => {
    const device = tcpDevice(1, [], { host: '127.0.0.1', timeout: 300 });
    const ctx = testContext();
    const driver = new ModbusDriver(device, ctx, (signal) => openTcpLink(device, signal));
    const aborted = AbortSignal.abort();
    await expect(driver.connect(aborted)).rejects.toThrow('cannot connect to 127.0.0.1:1: aborted');
    await expect(driver.read(group([]), never)).rejects.toThrow('not connected');
  });
});

describe('writes', () => {
  it('writes registers in the tag byte order, single bits and coils, and reads them back', async () => {
    const s = await sim({
      tags: [
        { area: 'holding', address: 0, type: 'uint16', value: 0x8001 },
        { area: 'holding', address: 1, type: 'float32', value: 0 },
      ],
    });
    const w = (t: Partial<ModbusTag> & Pick<ModbusTag, 'area' | 'address' | 'name'>) => mtag({ ...t, writable: true });
    const tags = [
      w({ name: 'word', area: 'holding', address: 0 }),
      w({ name: 'bit3', area: 'holding', address: 0, type: 'bool', bit: 3 }),
      w({ name: 'sp', area: 'holding', address: 1, type: 'float32', byte_order: 'CDAB' }),
      w({ name: 'temp', area: 'holding', address: 3, type: 'int16', scale: 0.1 }),
      w({ name: 'big', area: 'holding', address: 4, type: 'int64', byte_order: 'DCBA' }),
      w({ name: 'name', area: 'holding', address: 8, type: 'string', length: 4 }),
      w({ name: 'valve', area: 'coil', address: 3 }),
    ];
    const { driver } = await driverFor(tcpDevice(s.port, tags));
    await driver.write(tags[1], true, never);
    await driver.write(tags[2], 42.25, never);
    await driver.write(tags[3], -12.3, never);
    await driver.write(tags[4], '-9007199254740993', never);
    await driver.write(tags[5], 'OVEN', never);
    await driver.write(tags[6], true, never);
    expect(values(await driver.read(group(tags), never))).toEqual({
      word: 0x8009, bit3: true, sp: 42.25, temp: -12.3, big: -9007199254740993n, name: 'OVEN', valve: true,
    });
    // FC06 for one register, FC16 for more, FC05 for the coil; the bit write read first (FC03).
    expect([s.requests(6), s.requests(16), s.requests(5)]).toEqual([2, 3, 1]);
  });

  it('refuses what cannot or must not be written, and passes the device exception on', async () => {
    const s = await sim({ tags: [] });
    s.setFault({ illegal: { holding: [9] } });
    const { driver } = await driverFor(tcpDevice(s.port, []));
    await expect(driver.write(mtag({ name: 'in', area: 'input', address: 0, writable: true }), 1, never))
      .rejects.toThrow('tag in is in the input area, which is read-only');
    await expect(driver.write(mtag({ name: 'di', area: 'discrete', address: 0, writable: true }), true, never)).rejects.toThrow(/read-only/);
    await expect(driver.write(mtag({ name: 'ro', area: 'holding', address: 0 }), 1, never)).rejects.toThrow(/not writable/);
    await expect(driver.write(mtag({ name: 'u', area: 'holding', address: 0, writable: true }), 70000, never))
      .rejects.toThrow(/out of range for uint16/);
    await expect(driver.write(mtag({ name: 'x', area: 'holding', address: 9, writable: true }), 1, never))
      .rejects.toThrow('write to x failed: exception 2 (illegal data address)');
    expect(s.requests()).toBe(1);
  });
});
