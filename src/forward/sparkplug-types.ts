/**
 * floorgate values ↔ Sparkplug metric values (Sparkplug 3.0 §6.4.16–17).
 *
 * | tag                                   | Sparkplug datatype                     |
 * |---------------------------------------|----------------------------------------|
 * | bool (Modbus, serial)                 | Boolean                                |
 * | int16 / uint16 / int32 / uint32       | Int16 / UInt16 / Int32 / UInt32        |
 * | int64 / uint64 (Modbus, serial int64) | Int64 / UInt64                         |
 * | float32 / float64 (serial float64)    | Float / Double                         |
 * | any numeric type with scale ≠ 1 or offset ≠ 0 | Double (the engineering value is fractional) |
 * | string                                | String                                 |
 * | OPC UA (no configured type)           | from the value: Boolean, Double, Int64 (UInt64 beyond 2^63−1), String; arrays as String (JSON text) |
 *
 * An OPC UA tag without a value yet is declared Double; when its first value does not fit, the
 * device is born again with the learned type (see sparkplug-format.ts).
 */
import type { TagCommon } from '../config/types.js';
import type { Value } from '../driver/contract.js';
import { DataType, bigintOf, longOf, type Metric } from './sparkplug-codec.js';

const CONFIGURED: Readonly<Record<string, DataType>> = {
  bool: DataType.Boolean,
  int16: DataType.Int16,
  uint16: DataType.UInt16,
  int32: DataType.Int32,
  uint32: DataType.UInt32,
  int64: DataType.Int64,
  uint64: DataType.UInt64,
  float32: DataType.Float,
  float64: DataType.Double,
  string: DataType.String,
};

/** The datatype a config alone decides, or undefined when only a value can tell (OPC UA). */
export function configuredType(tag: TagCommon): DataType | undefined {
  if (tag.type === undefined) return undefined;
  const type = CONFIGURED[tag.type];
  const numeric = type !== DataType.Boolean && type !== DataType.String;
  return numeric && (tag.scale !== 1 || tag.offset !== 0) ? DataType.Double : type;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?\d+$/;

/** The datatype a value shows, for tags without a configured one. */
export function typeOfValue(value: Value): DataType {
  if (typeof value === 'boolean') return DataType.Boolean;
  if (typeof value === 'number') return DataType.Double;
  if (typeof value === 'bigint') return value > INT64_MAX ? DataType.UInt64 : DataType.Int64;
  return DataType.String;
}

const RANGES: Partial<Record<DataType, readonly [number, number]>> = {
  [DataType.Int8]: [-128, 127],
  [DataType.Int16]: [-32768, 32767],
  [DataType.Int32]: [-2147483648, 2147483647],
  [DataType.UInt8]: [0, 255],
  [DataType.UInt16]: [0, 65535],
  [DataType.UInt32]: [0, 4294967295],
};

/** 64-bit integers arrive as numbers, bigints, or (from a buffered body) decimal strings. */
function asBigint(value: Value): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : undefined;
  if (typeof value === 'string' && DECIMAL.test(value)) return BigInt(value);
  return undefined;
}

/** Whether a non-null value can be carried as `type` without changing it. */
export function fits(type: DataType, value: Value): boolean {
  switch (type) {
    case DataType.Boolean: return typeof value === 'boolean';
    case DataType.String: return typeof value === 'string' || Array.isArray(value);
    case DataType.Float: case DataType.Double: return typeof value === 'number' || typeof value === 'bigint';
    case DataType.Int64: case DataType.UInt64: {
      const b = asBigint(value);
      if (b === undefined) return false;
      return type === DataType.Int64 ? b >= INT64_MIN && b <= INT64_MAX : b >= 0n && b <= UINT64_MAX;
    }
    default: {
      const range = RANGES[type];
      return range !== undefined && typeof value === 'number' && Number.isInteger(value) && value >= range[0] && value <= range[1];
    }
  }
}

/** Sets the value field of a metric for a value that fits its type. */
export function setValue(metric: Metric, type: DataType, value: Value): void {
  switch (type) {
    case DataType.Boolean: metric.booleanValue = value as boolean; return;
    case DataType.String: metric.stringValue = typeof value === 'string' ? value : JSON.stringify(value); return;
    case DataType.Float: metric.floatValue = Number(value); return;
    case DataType.Double: metric.doubleValue = Number(value); return;
    case DataType.Int64: case DataType.UInt64: metric.longValue = longOf(asBigint(value)!); return;
    // Signed 8–32-bit integers travel as their two's complement in the unsigned field.
    default: metric.intValue = (value as number) >>> 0;
  }
}

/**
 * The value a command metric (DCMD) carries, as a JS value for a write: whichever value field
 * is set, read as the metric's datatype when it gives one, else as the tag's.
 */
export function commandValue(metric: Metric, type: DataType | undefined): Value | undefined {
  const declared = metric.datatype ?? type;
  if (metric.booleanValue !== undefined) return metric.booleanValue;
  if (metric.stringValue !== undefined) return metric.stringValue;
  if (metric.doubleValue !== undefined) return metric.doubleValue;
  if (metric.floatValue !== undefined) return metric.floatValue;
  if (metric.intValue !== undefined) {
    const u = metric.intValue >>> 0;
    const signed = declared === DataType.Int8 || declared === DataType.Int16 || declared === DataType.Int32;
    return signed ? u | 0 : u;
  }
  if (metric.longValue !== undefined) {
    const u = bigintOf(metric.longValue);
    const b = declared === DataType.UInt64 ? u : BigInt.asIntN(64, u);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }
  return undefined;
}
