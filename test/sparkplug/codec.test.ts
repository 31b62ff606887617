/**
 * Sparkplug payloads and datatypes, checked against Eclipse Tahu's generated decoder and
 * encoder (test/sparkplug/tahu.ts), never against floorgate's own codec.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ModbusTag } from '../../drivers/modbus/schema.js';
import type { OpcuaTag } from '../../drivers/opcua/schema.js';
import type { SerialTag } from '../../drivers/serial/schema.js';
import { DataType, decodePayload, encodePayload, type Metric } from '../../src/forward/sparkplug-codec.js';
import { commandValue, configuredType, fits, setValue, typeOfValue } from '../../src/forward/sparkplug-types.js';
import { decode, encodeCommand, valueOf } from './tahu.js';

function roundTrip(type: DataType, value: boolean | number | bigint | string): unknown {
  const m: Metric = { name: 'x', alias: 7, timestamp: 1, datatype: type };
  setValue(m, type, value);
  const [metric] = decode(encodePayload({ timestamp: 2, seq: 3, metrics: [m] })).metrics;
  expect(metric.datatype).toBe(type);
  return valueOf(metric, type);
}

const modbus = (type: ModbusTag['type'], extra: Partial<ModbusTag> = {}): ModbusTag => ({
  name: 't', area: 'holding', address: 0, type, byte_order: 'ABCD', poll_interval: 1000, scale: 1, offset: 0, writable: false, ...extra,
});

describe('Sparkplug values on the wire (decoded by Tahu)', () => {
  it('carries every integer type through its unsigned field, signed ones as two\'s complement', () => {
    fc.assert(fc.property(fc.integer({ min: -128, max: 127 }), (v) => roundTrip(DataType.Int8, v) === v));
    fc.assert(fc.property(fc.integer({ min: -32768, max: 32767 }), (v) => roundTrip(DataType.Int16, v) === v));
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => roundTrip(DataType.Int32, v) === v));
    fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), (v) => roundTrip(DataType.UInt16, v) === v));
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (v) => roundTrip(DataType.UInt32, v) === v));
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => roundTrip(DataType.Int64, v) === v));
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => roundTrip(DataType.UInt64, v) === v));
  });

  it('takes 64-bit values as numbers, bigints or the decimal strings of a buffered body', () => {
    expect(roundTrip(DataType.Int64, -5)).toBe(-5n);
    expect(roundTrip(DataType.UInt64, '18446744073709551615')).toBe(2n ** 64n - 1n);
    expect(roundTrip(DataType.Int64, '-9223372036854775808')).toBe(-(2n ** 63n));
  });

  it('carries floats, doubles, booleans and strings', () => {
    fc.assert(fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (v) => Object.is(roundTrip(DataType.Float, v), v)));
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => Object.is(roundTrip(DataType.Double, v), v)));
    fc.assert(fc.property(fc.boolean(), (v) => roundTrip(DataType.Boolean, v) === v));
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (v) => roundTrip(DataType.String, v) === v));
  });

  it('payload fields: seq, timestamps, alias, is_historical and is_null as Tahu reads them', () => {
    const bytes = encodePayload({
      timestamp: 1764396220123, seq: 255,
      metrics: [{ alias: 2 ** 40, timestamp: 1764396220000, isHistorical: true, isNull: true }],
    });
    const p = decode(bytes);
    expect(p).toMatchObject({ timestamp: '1764396220123', seq: '255' });
    expect(p.metrics[0]).toMatchObject({ alias: '1099511627776', timestamp: '1764396220000', isHistorical: true, isNull: true });
  });

  it('puts zeros on the wire: seq 0 (NBIRTH) and a value of 0 are present, not proto3 defaults', () => {
    const p = decode(encodePayload({ timestamp: 0, seq: 0, metrics: [{ alias: 0, intValue: 0 }, { alias: 1, booleanValue: false }] }));
    expect(p).toMatchObject({ timestamp: '0', seq: '0' });
    expect(p.metrics).toEqual([{ alias: '0', intValue: 0 }, { alias: '1', booleanValue: false }]);
  });

  it('decodes what Tahu encodes (a host\'s DCMD) into write values', () => {
    const p = decodePayload(encodeCommand([
      { name: 'a', type: 'Int16', value: -5 },
      { name: 'b', type: 'Float', value: 21.5 },
      { name: 'c', type: 'Boolean', value: true },
      { name: 'd', type: 'String', value: 'AB' },
      { name: 'e', type: 'UInt32', value: 4000000000 },
      { alias: 9, type: 'Int64', value: -7 },
      { name: 'g', type: 'Double', value: 0.1 },
    ]));
    const values = p.metrics.map((m) => commandValue(m, undefined));
    expect(values).toEqual([-5, 21.5, true, 'AB', 4000000000, -7, 0.1]);
    expect(p.metrics[5].name).toBeUndefined();
  });
});

describe('datatypes', () => {
  it('maps configured tag types, and scaled numbers to Double', () => {
    const expected: Record<ModbusTag['type'], DataType> = {
      bool: DataType.Boolean, int16: DataType.Int16, uint16: DataType.UInt16, int32: DataType.Int32, uint32: DataType.UInt32,
      int64: DataType.Int64, uint64: DataType.UInt64, float32: DataType.Float, float64: DataType.Double, string: DataType.String,
    };
    for (const [type, dt] of Object.entries(expected)) expect(configuredType(modbus(type as ModbusTag['type']))).toBe(dt);
    expect(configuredType(modbus('int16', { scale: 0.1 }))).toBe(DataType.Double);
    expect(configuredType(modbus('float32', { offset: -40 }))).toBe(DataType.Double);
    const serial: SerialTag = { name: 'w', group: 'w', type: 'int64', poll_interval: 1000, scale: 1, offset: 0, writable: false };
    expect(configuredType(serial)).toBe(DataType.Int64);
    const opcua: OpcuaTag = { name: 'o', node_id: 'ns=1;s=x', mode: 'poll', sampling_interval: 0, queue_size: 1, poll_interval: 1000, scale: 1, offset: 0, writable: false };
    expect(configuredType(opcua)).toBeUndefined();
  });

  it('reads a type off a value for tags without one, and knows what fits', () => {
    expect([true, 1.5, 2n ** 63n, -1n, 'x', [1, 2]].map(typeOfValue)).toEqual(
      [DataType.Boolean, DataType.Double, DataType.UInt64, DataType.Int64, DataType.String, DataType.String]);
    expect(fits(DataType.Int16, 32767)).toBe(true);
    expect(fits(DataType.Int16, 32768)).toBe(false);
    expect(fits(DataType.UInt16, 1.5)).toBe(false);
    expect(fits(DataType.Int64, '9223372036854775808')).toBe(false);
    expect(fits(DataType.UInt64, '9223372036854775808')).toBe(true);
    expect(fits(DataType.Double, 'x')).toBe(false);
    expect(fits(DataType.Boolean, 1)).toBe(false);
  });
});
