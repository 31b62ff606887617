/**
 * OPC UA values → floorgate readings: the type mapping and the quality mapping, pure.
 *
 * | OPC UA                              | reading value                                         |
 * |-------------------------------------|-------------------------------------------------------|
 * | Boolean                             | true / false                                          |
 * | SByte … UInt32, Float, Double       | number (× scale + offset)                             |
 * | Int64, UInt64                       | number within ±(2^53−1), else bigint (published as a decimal string) |
 * | String, LocalizedText, QualifiedName| string (the text / the name)                          |
 * | DateTime                            | ISO 8601 string in UTC, e.g. "2025-01-15T06:30:00.000Z" |
 * | ByteString                          | base64 string                                         |
 * | NodeId, ExpandedNodeId, Guid        | string                                                |
 * | StatusCode                          | its name                                              |
 * | arrays and matrices of the above    | JSON array (matrices flattened; 64-bit elements beyond ±(2^53−1) as decimal strings) |
 * | ExtensionObject, Variant, DataValue, XmlElement, DiagnosticInfo | quality bad, "unsupported data type …" |
 *
 * DateTime is a string, not epoch ms: a number would look like a measurement to the consumer
 * (and to deadband and scale), while an ISO string is unmistakably a point in time.
 *
 * Quality follows the StatusCode's severity bits: Good → good, Uncertain → uncertain (value
 * kept, status name in `error`), Bad → bad (value null, status name in `error`).
 */
import { DataType, VariantArrayType, type DataValue, type StatusCode, type Variant } from 'node-opcua-client';
import type { OpcuaTag } from './schema.js';
import type { Quality, Reading, Value } from '../../src/driver/contract.js';
import { isoTime } from '../../src/clock/iso-time.js';

type Element = boolean | number | string | null;

export class UnsupportedType extends Error {}

export function qualityOf(status: StatusCode): Quality {
  // The two top bits of a StatusCode are its severity: 00 good, 01 uncertain, 10/11 bad.
  const severity = status.value >>> 30;
  return severity === 0 ? 'good' : severity === 1 ? 'uncertain' : 'bad';
}

/** The status in words an operator can look up: the name, e.g. BadNodeIdUnknown. */
export function statusText(status: StatusCode): string {
  return status.name;
}

/** node-opcua carries 64-bit integers as [high, low] 32-bit words, two's complement for Int64. */
export function int64Words(words: readonly number[], signed: boolean): bigint {
  const u = (BigInt(words[0] >>> 0) << 32n) | BigInt(words[1] >>> 0);
  return signed ? BigInt.asIntN(64, u) : u;
}

/** A number when it is exactly representable, else the bigint. */
export function narrow(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

function scalar(dataType: DataType, v: unknown): boolean | number | bigint | string | null {
  if (v === null || v === undefined) return null;
  switch (dataType) {
    case DataType.Null: return null;
    case DataType.Boolean: return Boolean(v);
    case DataType.SByte: case DataType.Byte: case DataType.Int16: case DataType.UInt16:
    case DataType.Int32: case DataType.UInt32: case DataType.Float: case DataType.Double:
      return Number(v);
    case DataType.Int64: case DataType.UInt64:
      return narrow(Array.isArray(v) ? int64Words(v, dataType === DataType.Int64) : BigInt(v as number));
    case DataType.String: return String(v);
    case DataType.DateTime: return v instanceof Date && !Number.isNaN(v.getTime()) ? isoTime(v.getTime()) : null;
    case DataType.ByteString: return Buffer.isBuffer(v) ? v.toString('base64') : null;
    case DataType.LocalizedText: return (v as { text?: string | null }).text ?? null;
    case DataType.QualifiedName: return (v as { name?: string | null }).name ?? null;
    case DataType.StatusCode: return (v as StatusCode).name;
    case DataType.Guid: case DataType.NodeId: case DataType.ExpandedNodeId:
      return String(v);
    default:
      throw new UnsupportedType(`unsupported data type ${DataType[dataType] ?? dataType}`);
  }
}

/** The JSON-ready value of a Variant; throws UnsupportedType for structures. */
export function variantValue(variant: Variant): Value {
  const { dataType, value } = variant;
  if (variant.arrayType === VariantArrayType.Scalar) return scalar(dataType, value);
  // Arrays come as plain arrays or typed arrays (Float64Array, …); a matrix carries its elements flat.
  if (value === null || value === undefined) return null;
  return Array.from(value as ArrayLike<unknown>, (item): Element => {
    const s = scalar(dataType, item);
    return typeof s === 'bigint' ? s.toString() : s;
  });
}

/** value × scale + offset for numbers (and numeric arrays); a scaled 64-bit integer becomes a plain number. */
export function scaled(value: Value, scale: number, offset: number): Value {
  if (scale === 1 && offset === 0) return value;
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value) * scale + offset;
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'number' ? v * scale + offset : v));
  return value;
}

/**
 * One DataValue (from a Read or a data change notification) as the tag's reading, stamped with
 * the server's source (or server) timestamp when it gave one: the device's clock, which floorgate
 * does not judge (sourceTime), else with the time it arrived.
 */
export function toReading(tag: OpcuaTag, dv: DataValue, now: number): Reading {
  const deviceTs = dv.sourceTimestamp?.getTime() || dv.serverTimestamp?.getTime();
  const stamp = deviceTs ? { tag: tag.name, ts: deviceTs, sourceTime: true as const } : { tag: tag.name, ts: now };
  const quality = qualityOf(dv.statusCode);
  if (quality === 'bad') return { ...stamp, value: null, quality, error: statusText(dv.statusCode) };
  let value: Value;
  try {
    value = scaled(variantValue(dv.value), tag.scale, tag.offset);
  } catch (err) {
    if (!(err instanceof UnsupportedType)) throw err;
    return { ...stamp, value: null, quality: 'bad', error: err.message };
  }
  return quality === 'good'
    ? { ...stamp, value, quality }
    : { ...stamp, value, quality, error: statusText(dv.statusCode) };
}
