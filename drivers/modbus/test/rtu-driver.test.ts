/**
 * The Modbus driver over RTU: the RTU simulator on one end of a socat pty pair, the driver on
 * the other. Every type and byte order, writes, exception splitting, request counts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModbusTag } from '../schema.js';
import type { Reading } from '../../../src/driver/contract.js';
import type { SimMap } from '../sim.js';
import { readRequest, withCrc } from '../rtu-frame.js';
import { openSerialPort } from '../../../src/serial/open-port.js';
import { group, mtag, never, sleep } from './helpers.js';
import { RtuLab, rtuDevice, until } from './rtu-helpers.js';

let lab: RtuLab;
beforeEach(() => { lab = new RtuLab(); });
afterEach(async () => { await lab.cleanup(); });

const values = (readings: Reading[]) => Object.fromEntries(readings.map((r) => [r.tag, r.value]));

/** [tag, the value the map serves, the value the driver must read]. */
const TABLE: ReadonlyArray<[ModbusTag, SimMap['tags'][number]['value'], unknown]> = [
  [mtag({ name: 'i16', area: 'holding', address: 0, type: 'int16' }), -1234, -1234],
  [mtag({ name: 'u16', area: 'holding', address: 1, type: 'uint16' }), 54321, 54321],
  [mtag({ name: 'i32', area: 'holding', address: 2, type: 'int32' }), -123456789, -123456789],
  [mtag({ name: 'u32_cdab', area: 'holding', address: 4, type: 'uint32', byte_order: 'CDAB' }), 3000000000, 3000000000],
  [mtag({ name: 'f32_badc', area: 'holding', address: 6, type: 'float32', byte_order: 'BADC' }), 123.456, 123.456],
  [mtag({ name: 'i64', area: 'holding', address: 8, type: 'int64' }), -1234567890123, -1234567890123],
  [mtag({ name: 'u64_dcba', area: 'holding', address: 12, type: 'uint64', byte_order: 'DCBA' }), 9007199254740991, 9007199254740991],
  [mtag({ name: 'f64_cdab', area: 'holding', address: 16, type: 'float64', byte_order: 'CDAB' }), -98765.4321, -98765.4321],
  [mtag({ name: 'text', area: 'holding', address: 20, type: 'string', length: 5 }), 'FLOORGATE', 'FLOORGATE'],
  [mtag({ name: 'bit3', area: 'holding', address: 25, type: 'bool', bit: 3 }), true, true],
  [mtag({ name: 'in_f32', area: 'input', address: 0, type: 'float32', byte_order: 'DCBA' }), 21.5, 21.5],
  [mtag({ name: 'coil0', area: 'coil', address: 0 }), false, false],
  [mtag({ name: 'coil9', area: 'coil', address: 9 }), true, true],
  [mtag({ name: 'di3', area: 'discrete', address: 3 }), true, true],
];

const MAP: SimMap = {
  tags: TABLE.map(([t, value]) => ({
    area: t.area, address: t.address, type: t.type, bit: t.bit, length: t.length, byte_order: t.byte_order, value,
  })),
};
const TAGS = TABLE.map(([t]) => t);

describe('modbus_rtu over a pty pair', () => {
  it('reads every type and byte order, in the fewest requests, at 9600 baud', async () => {
    const { sim } = await lab.plugIn({ map: MAP });
    const { driver, ctx } = await lab.driver(rtuDevice(lab.dev, TAGS));
    const readings = await driver.read(group(TAGS), never);
    for (const r of readings) expect(r.quality, `${r.tag}: ${r.error}`).toBe('good');
    expect(values(readings)).toEqual(Object.fromEntries(TABLE.map(([t, , v]) => [t.name, v])));
    // holding 0..25, input 0..1, coil 0..9, discrete 3: four requests, as over TCP.
    expect(ctx.requests).toBe(4);
    expect([sim.requests(1, 3), sim.requests(1, 4), sim.requests(1, 1), sim.requests(1, 2)]).toEqual([1, 1, 1, 1]);
  });

  it('writes a coil (FC05), one register (FC06), several (FC16) and one bit (FC03 + FC06), and reads them back', async () => {
    const { sim } = await lab.plugIn({ map: MAP });
    const w = (t: ModbusTag) => ({ ...t, writable: true });
    const coil = w(TAGS.find((t) => t.name === 'coil0')!);
    const u16 = w(TAGS.find((t) => t.name === 'u16')!);
    const f64 = w(TAGS.find((t) => t.name === 'f64_cdab')!);
    const bit = w(mtag({ name: 'bit7', area: 'holding', address: 25, type: 'bool', bit: 7 }));
    const { driver } = await lab.driver(rtuDevice(lab.dev, [coil, u16, f64, bit]));
    await driver.write(coil, true, never);
    await driver.write(u16, 777, never);
    await driver.write(f64, 2.5, never);
    await driver.write(bit, true, never);
    expect([sim.requests(1, 5), sim.requests(1, 6), sim.requests(1, 16), sim.requests(1, 3)]).toEqual([1, 2, 1, 1]);
    const bit3 = TAGS.find((t) => t.name === 'bit3')!;
    expect(values(await driver.read(group([coil, u16, f64, bit, bit3]), never)))
      .toEqual({ coil0: true, u16: 777, f64_cdab: 2.5, bit7: true, bit3: true });
  });

  it('splits a block on exception 02 and quarantines only the illegal tag', async () => {
    const { sim } = await lab.plugIn({ map: MAP });
    sim.setFault({ illegal: { holding: [3] } });
    const { driver } = await lab.driver(rtuDevice(lab.dev, TAGS));
    const readings = await driver.read(group(TAGS), never);
    const bad = readings.filter((r) => r.quality === 'bad');
    expect(bad).toEqual([expect.objectContaining({ tag: 'i32', error: 'exception 2 (illegal data address)' })]);
    expect(readings.find((r) => r.tag === 'f64_cdab')?.value).toBe(-98765.4321);
  });

  it('the simulator answers like a slave: exception 01 to an unknown function, nothing to a bad CRC or another unit', async () => {
    const { sim } = await lab.plugIn({ units: [1], map: MAP });
    const replies: Buffer[] = [];
    const master = await openSerialPort(rtuDevice(lab.dev, []), never, { onData: (c) => { replies.push(c); }, onLost: () => {} });
    lab.defer(() => master.close());
    /** The reply's bytes: waits for `length` of them, or 200 ms for none. */
    const ask = async (frame: Buffer, length: number) => {
      replies.length = 0;
      await master.write(frame);
      if (length === 0) await sleep(200);
      else await until(() => Buffer.concat(replies).length >= length, 3000, 'the reply');
      return Buffer.concat(replies);
    };
    // Report server id (FC17): four bytes, a function the simulator does not serve.
    expect(await ask(withCrc(Buffer.from([1, 0x11])), 5)).toEqual(withCrc(Buffer.from([1, 0x91, 1])));
    const read = readRequest(1, 3, 0, 1).frame;
    const spoilt = Buffer.from(read);
    spoilt[3] ^= 0x01;
    expect(await ask(spoilt, 0)).toEqual(Buffer.alloc(0));
    expect(await ask(readRequest(2, 3, 0, 1).frame, 0)).toEqual(Buffer.alloc(0));
    expect(await ask(read, 7)).toEqual(withCrc(Buffer.from([1, 3, 2, 0xfb, 0x2e])));
    expect(sim.requests()).toBe(2);
  });
});
