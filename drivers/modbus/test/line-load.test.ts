/**
 * What a serial line's polls cost: the wire time of each read (request, reply, and the 3.5
 * character silence before each) at the line's baud rate and framing, and the load of all the
 * devices on one port. Expected values are worked by hand from the Modbus serial line spec.
 */
import { describe, expect, it } from 'vitest';
import type { SerialLine } from '../../../src/config/types.js';
import type { ModbusTag } from '../schema.js';
import { modbusRtu } from '../index.js';
import { readExchangeMs, readFrameBytes } from '../rtu-timing.js';
import { mtag } from './helpers.js';
import { rtuDevice } from './rtu-helpers.js';

const line = (baud_rate: number, parity: SerialLine['parity'], stop_bits: SerialLine['stop_bits'], data_bits: SerialLine['data_bits'] = 8): SerialLine =>
  ({ port: '/dev/ttyUSB0', baud_rate, parity, stop_bits, data_bits });

describe('the frames of a read', () => {
  it.each([
    ['holding', 1, 8, 7],
    ['holding', 120, 8, 245],
    ['input', 125, 8, 255],
    ['coil', 1, 8, 6],
    ['coil', 20, 8, 8],
    ['discrete', 16, 8, 7],
    ['discrete', 2000, 8, 255],
  ] as const)('%s × %i: a %i-byte request, a %i-byte reply', (area, count, request, reply) => {
    expect(readFrameBytes(area, count)).toEqual({ request, reply });
  });
});

describe('the time of one read on the line', () => {
  it.each([
    // 10 bits a character: 1.0417 ms; t3.5 = 3.6458 ms. (8 + 245) · 1.0417 + 2 · 3.6458
    ['9600 8N1, 120 registers', line(9600, 'none', 1), 'holding', 120, 270.833],
    // (8 + 7) · 1.0417 + 2 · 3.6458
    ['9600 8N1, 1 register', line(9600, 'none', 1), 'holding', 1, 22.917],
    // 11 bits: 0.57292 ms a character; t3.5 = 2.0052 ms (19200 is not above 19200). (8 + 8) · 0.57292 + 2 · 2.0052
    ['19200 8E1, 20 coils', line(19200, 'even', 1), 'coil', 20, 13.177],
    // 11 bits: 0.28646 ms a character; t3.5 fixed 1.75 ms. (8 + 255) · 0.28646 + 2 · 1.75
    ['38400 8N2, 125 input registers', line(38400, 'none', 2), 'input', 125, 78.839],
    // 7 data bits + parity: 10 bits. (8 + 5 + 250) · 1.0417 + 2 · 3.6458
    ['9600 7O1, 2000 discrete inputs', line(9600, 'odd', 1, 7), 'discrete', 2000, 281.250],
  ] as const)('%s: %f ms', (_name, device, area, count, ms) => {
    expect(readExchangeMs(device, area, count)).toBeCloseTo(ms, 3);
  });
});

describe('the load of a line', () => {
  const reg = (name: string, address: number, poll_interval: number, over: Partial<ModbusTag> = {}) =>
    mtag({ name, area: 'holding', address, poll_interval, ...over });

  it('the issue\'s example: two drives polled every 100 ms, one reading 120 registers, at 9600 8N1: 294 %', () => {
    const drive1 = rtuDevice('/dev/ttyUSB0', [reg('block', 0, 100, { type: 'string', length: 120 })], { name: 'drive-1', unit_id: 1 });
    const drive2 = rtuDevice('/dev/ttyUSB0', [reg('speed', 0, 100)], { name: 'drive-2', unit_id: 2 });
    const [load, ...others] = modbusRtu.lineLoads!([drive1, drive2]);
    expect(others).toEqual([]);
    expect(load.line).toBe('/dev/ttyUSB0');
    // 270.833 + 22.917 = 293.750 ms every 100 ms
    expect(load.load).toBeCloseTo(2.9375, 6);
    expect(load.title).toBe('serial line /dev/ttyUSB0 (9600 8N1, t3.5 3.65 ms)');
    expect(load.devices).toEqual(['drive-1', 'drive-2']);
    expect(load.plan.map((l) => l.text)).toEqual(['every 100ms: 2 requests, 293.8 ms on the line']);
  });

  it('sums each interval\'s time over its interval, and keeps the lines apart', () => {
    const a = rtuDevice('/dev/ttyUSB0', [reg('fast', 0, 100), reg('slow', 200, 10_000, { type: 'string', length: 120 })], { name: 'a' });
    const b = rtuDevice('/dev/ttyUSB1', [reg('x', 0, 1000)], { name: 'b', baud_rate: 19200, parity: 'even' });
    const loads = modbusRtu.lineLoads!([a, b]);
    expect(loads.map((l) => l.line)).toEqual(['/dev/ttyUSB0', '/dev/ttyUSB1']);
    // 22.917 / 100 + 270.833 / 10000
    expect(loads[0].load).toBeCloseTo(0.229167 + 0.0270833, 6);
    expect(loads[0].plan.map((l) => l.text)).toEqual([
      'every 100ms: 1 request, 22.9 ms on the line',
      'every 10000ms: 1 request, 270.8 ms on the line',
    ]);
    // 19200 8E1: (8 + 7) · 0.57292 + 2 · 2.0052 = 12.604 ms every 1000 ms
    expect(loads[1].load).toBeCloseTo(0.012604, 6);
  });

  it('prices each request of a device\'s plan', () => {
    const device = rtuDevice('/dev/ttyUSB0', [reg('block', 0, 100, { type: 'string', length: 120 })]);
    expect(modbusRtu.plan!(device).map((l) => l.text)).toEqual([
      'every 100ms: holding 0..119 (120 registers; 8 + 245 bytes, 270.8 ms on the line) -> block',
    ]);
  });
});
