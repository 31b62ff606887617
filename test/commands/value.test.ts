import { describe, expect, it } from 'vitest';
import type { ModbusTag } from '../../drivers/modbus/schema.js';
import type { OpcuaTag } from '../../drivers/opcua/schema.js';
import { checkWriteValue } from '../../src/commands/value.js';

const tag = (type: ModbusTag['type']): ModbusTag => ({
  name: 't', area: 'holding', address: 0, type, byte_order: 'ABCD', poll_interval: 1000, scale: 1, offset: 0, writable: true,
});
const opcua: OpcuaTag = { name: 'o', node_id: 'ns=1;s=o', mode: 'poll', sampling_interval: 0, queue_size: 1, poll_interval: 1000, scale: 1, offset: 0, writable: true };

describe('checkWriteValue', () => {
  it('takes what each type can hold', () => {
    expect(checkWriteValue(tag('bool'), true)).toBe(true);
    expect(checkWriteValue(tag('bool'), 0)).toBe(false);
    expect(checkWriteValue(tag('string'), 'AB')).toBe('AB');
    expect(checkWriteValue(tag('float32'), 21.5)).toBe(21.5);
    expect(checkWriteValue(tag('int16'), -3)).toBe(-3);
    expect(checkWriteValue(tag('uint64'), '18446744073709551615')).toBe(2n ** 64n - 1n);
    expect(checkWriteValue(tag('int64'), -5)).toBe(-5);
    expect(checkWriteValue(opcua, [1, 2, null])).toEqual([1, 2, null]);
    expect(checkWriteValue(opcua, 'text')).toBe('text');
    // A Sparkplug UInt64 beyond 2^53 reaches an OPC UA tag exactly.
    expect(checkWriteValue(opcua, 2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
  });

  it('refuses the wrong type with what the tag takes', () => {
    expect(() => checkWriteValue(tag('bool'), 2)).toThrow('tag t is bool: expected true/false (or 1/0), got 2');
    expect(() => checkWriteValue(tag('bool'), 'true')).toThrow(TypeError);
    expect(() => checkWriteValue(tag('float32'), 'hot')).toThrow('tag t is float32: expected a number, got "hot"');
    expect(() => checkWriteValue(tag('uint16'), '12')).toThrow('expected a number');
    expect(() => checkWriteValue(tag('int64'), '1.5')).toThrow('(or its decimal digits as a string)');
    expect(() => checkWriteValue(tag('float64'), Number.NaN)).toThrow('got NaN');
    expect(() => checkWriteValue(tag('string'), 5)).toThrow('expected a string, got 5');
    expect(() => checkWriteValue(tag('uint16'), null)).toThrow('a value is required');
    expect(() => checkWriteValue(opcua, { a: 1 })).toThrow('got an object');
    expect(() => checkWriteValue(opcua, [[1]])).toThrow('got an array');
  });
});
