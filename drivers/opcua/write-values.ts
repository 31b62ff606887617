/**
 * Values to write → a Variant of the node's own data type: the inverse of values.ts, pure.
 *
 * | node's data type            | accepted value                                                       |
 * |-----------------------------|----------------------------------------------------------------------|
 * | Boolean                     | true / false (or 1 / 0)                                              |
 * | SByte … UInt32              | a number, range-checked after undoing scale and offset               |
 * | Int64, UInt64               | a number within ±(2^53−1), a bigint, or its decimal digits as a string |
 * | Float, Double               | a finite number (Float range-checked)                                |
 * | String                      | a string                                                             |
 * | DateTime                    | an ISO 8601 string with its zone ("2025-01-15T06:30:00Z") or epoch ms |
 * | ByteString                  | base64 text (what a read publishes)                                  |
 * | arrays of the above         | a JSON array, element by element                                     |
 *
 * Numbers are engineering values: raw = (value − offset) / scale, rounded to a whole number for
 * integer types (21.5 / 0.1 is 214.99999999999997). Without scale and offset the value *is* the
 * raw value, so a fraction for an integer type is refused rather than silently rounded.
 *
 * Errors are TypeError (wrong kind of value) or RangeError (does not fit the type), naming the
 * data type; the commands layer counts both as refused, since nothing reached the server.
 */
import { DataType, Variant, VariantArrayType } from 'node-opcua-client';
import { describeValue as describe } from '../../src/value-text.js';

/** What a write needs to know of a node. */
export interface NodeShape {
  /** The built-in type its DataType is (or derives from). */
  readonly dataType: DataType;
  /** OPC UA ValueRank: −1 scalar, 1 one dimension, 0 one or more, −2 any, −3 scalar or one dimension, >1 matrix. */
  readonly valueRank: number;
}

export interface Scaling {
  readonly scale: number;
  readonly offset: number;
}

const INT_RANGE: Partial<Record<DataType, readonly [bigint, bigint]>> = {
  [DataType.SByte]: [-128n, 127n],
  [DataType.Byte]: [0n, 255n],
  [DataType.Int16]: [-32768n, 32767n],
  [DataType.UInt16]: [0n, 65535n],
  [DataType.Int32]: [-2147483648n, 2147483647n],
  [DataType.UInt32]: [0n, 4294967295n],
  [DataType.Int64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [DataType.UInt64]: [0n, 2n ** 64n - 1n],
};

const FLOAT32_MAX = 3.4028234663852886e38;
/** OPC UA DateTime spans 1601-01-01 to 9999-12-31 (Part 6, 5.2.2.5). */
const DATE_MIN = Date.UTC(1601, 0, 1);
const DATE_MAX = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** A zone is required: without one the gateway's local time would be guessed. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
const DECIMAL = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The Variant to write for `value` into a node of this shape; throws TypeError/RangeError. */
export function toVariant(shape: NodeShape, value: unknown, scaling: Scaling): Variant {
  const { dataType, valueRank } = shape;
  const name = typeName(dataType);
  if (valueRank > 1) throw new TypeError(`the node holds a ${valueRank}-dimensional matrix of ${name}: writing matrices is not supported`);
  if (Array.isArray(value)) {
    if (valueRank === -1) throw new TypeError(`the node holds a single ${name}, not an array`);
    const items = value.map((item, i) => {
      try {
        return encode(dataType, item, scaling);
      } catch (err) {
        if (err instanceof Error) err.message = `element ${i}: ${err.message}`;
        throw err;
      }
    });
    return new Variant({ dataType, arrayType: VariantArrayType.Array, value: items });
  }
  if (valueRank === 0 || valueRank === 1) throw new TypeError(`the node holds an array of ${name}: send a JSON array`);
  return new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: encode(dataType, value, scaling) });
}

function encode(type: DataType, v: unknown, s: Scaling): unknown {
  switch (type) {
    case DataType.Boolean:
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1) return v === 1;
      throw new TypeError(`expected true/false (or 1/0) for Boolean, got ${describe(v)}`);
    case DataType.SByte: case DataType.Byte: case DataType.Int16: case DataType.UInt16:
    case DataType.Int32: case DataType.UInt32:
      return Number(integer(type, v, s));
    case DataType.Int64: case DataType.UInt64: {
      // node-opcua carries 64-bit integers as [high, low] 32-bit words (two's complement).
      const u = BigInt.asUintN(64, integer(type, v, s));
      return [Number(u >> 32n), Number(u & 0xffffffffn)];
    }
    case DataType.Float: case DataType.Double:
      return float(type, v, s);
    case DataType.String:
      if (typeof v === 'string') return v;
      throw new TypeError(`expected a string for String, got ${describe(v)}`);
    case DataType.DateTime:
      return dateTime(v);
    case DataType.ByteString:
      if (typeof v === 'string' && BASE64.test(v)) return Buffer.from(v, 'base64');
      throw new TypeError(`expected base64 text for ByteString, got ${describe(v)}`);
    default:
      throw new TypeError(`writing ${typeName(type)} values is not supported`);
  }
}

function unscaled(s: Scaling): boolean {
  return s.scale === 1 && s.offset === 0;
}

function integer(type: DataType, v: unknown, s: Scaling): bigint {
  const name = typeName(type);
  const wide = type === DataType.Int64 || type === DataType.UInt64;
  let raw: bigint;
  if (typeof v === 'bigint' || (wide && typeof v === 'string' && DECIMAL.test(v))) {
    const exact = BigInt(v);
    raw = unscaled(s) ? exact : unscale(Number(exact), v, s);
  } else if (typeof v === 'number' && Number.isFinite(v)) {
    if (!unscaled(s)) raw = unscale(v, v, s);
    else if (!Number.isInteger(v)) throw new RangeError(`${v} is not a whole number, as ${name} needs`);
    // Beyond 2^53 a JSON number has lost digits already: writing it would write something else.
    else if (wide && !Number.isSafeInteger(v)) throw new RangeError(`${v} is beyond ±(2^53−1) and has lost digits: send a ${name} this large as a decimal string`);
    else raw = BigInt(v);
  } else {
    throw new TypeError(`expected a number${wide ? ' (or its decimal digits as a string)' : ''} for ${name}, got ${describe(v)}`);
  }
  const [min, max] = INT_RANGE[type]!;
  if (raw < min || raw > max) throw new RangeError(`value ${describe(v)} is out of range for ${name} (raw ${raw}, allowed ${min}..${max})`);
  return raw;
}

/** (value − offset) / scale as the nearest whole raw value. */
function unscale(n: number, original: unknown, s: Scaling): bigint {
  const x = (n - s.offset) / s.scale;
  if (!Number.isFinite(x)) throw new RangeError(`value ${describe(original)} cannot be unscaled (scale ${s.scale})`);
  return BigInt(Math.round(x));
}

function float(type: DataType, v: unknown, s: Scaling): number {
  const name = typeName(type);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`expected a number for ${name}, got ${describe(v)}`);
  const raw = unscaled(s) ? v : (v - s.offset) / s.scale;
  if (!Number.isFinite(raw)) throw new RangeError(`value ${describe(v)} cannot be unscaled (scale ${s.scale})`);
  if (type === DataType.Float && Math.abs(raw) > FLOAT32_MAX) {
    throw new RangeError(`value ${describe(v)} is out of range for Float (raw ${raw}, allowed ±${FLOAT32_MAX})`);
  }
  return raw;
}

function dateTime(v: unknown): Date {
  let ms: number;
  if (typeof v === 'number' && Number.isFinite(v)) ms = v;
  else if (typeof v === 'string' && ISO_DATE_TIME.test(v)) ms = Date.parse(v);
  else throw new TypeError(`expected an ISO 8601 string with its zone (e.g. "2025-01-15T06:30:00Z") or epoch milliseconds for DateTime, got ${describe(v)}`);
  if (Number.isNaN(ms) || ms < DATE_MIN || ms > DATE_MAX) {
    throw new RangeError(`value ${describe(v)} is out of range for DateTime (1601-01-01 to 9999-12-31 UTC)`);
  }
  return new Date(ms);
}

function typeName(type: DataType): string {
  return DataType[type] ?? `data type ${type}`;
}

