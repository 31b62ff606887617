/**
 * The type check of a write command's value against the tag's configured type, before anything
 * is queued for the device. Ranges, scale/offset and the encoding are the driver's (the Modbus
 * codec refuses 70000 for a uint16 with the raw value and the allowed range).
 */
import type { TagCommon } from '../config/types.js';
import type { Value } from '../driver/contract.js';
import { describeValue as describe } from '../value-text.js';

const DECIMAL = /^-?\d+$/;

/** The value to write, or a TypeError saying what the tag accepts. */
export function checkWriteValue(tag: TagCommon, value: unknown): Value {
  if (value === null || value === undefined) throw new TypeError('a value is required');
  if (tag.type === undefined) return checkUntyped(value);
  switch (tag.type) {
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 0 || value === 1) return value === 1;
      throw new TypeError(`tag ${tag.name} is bool: expected true/false (or 1/0), got ${describe(value)}`);
    case 'string':
      if (typeof value === 'string') return value;
      throw new TypeError(`tag ${tag.name} is string: expected a string, got ${describe(value)}`);
    default: {
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      // Beyond ±2^53 a JSON number has lost digits already; the exact value comes as text.
      const wide = tag.type === 'int64' || tag.type === 'uint64';
      if (wide && typeof value === 'bigint') return value;
      if (wide && typeof value === 'string' && DECIMAL.test(value)) return BigInt(value);
      throw new TypeError(`tag ${tag.name} is ${tag.type}: expected a number${wide ? ' (or its decimal digits as a string)' : ''}, got ${describe(value)}`);
    }
  }
}

/** OPC UA tags carry no configured type: any scalar, or an array of scalars; the server decides. */
function checkUntyped(value: unknown): Value {
  // A 64-bit integer from a Sparkplug DCMD arrives as a bigint: the driver converts it exactly.
  if (isScalar(value) || typeof value === 'bigint') return value;
  if (Array.isArray(value) && value.every((v) => v === null || isScalar(v))) return value as Value;
  throw new TypeError(`expected a boolean, number, string or an array of them, got ${describe(value)}`);
}

function isScalar(v: unknown): v is boolean | number | string {
  return typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

