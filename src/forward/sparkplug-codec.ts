/**
 * Sparkplug B payloads (Sparkplug 3.0, §6.4) as protobuf, through protobufjs.
 *
 * The schema below is the subset of the Sparkplug B message definition floorgate writes and
 * reads: Payload, Metric and the PropertySet used for quality. Field numbers and types are the
 * specification's (they are the wire format); DataSet, Template and MetaData are left out, and
 * a decoder skips such fields of a foreign payload rather than failing on them.
 *
 * Integers follow the specification's rules for the unsigned carrier fields: Int8/16/32 and
 * UInt8/16/32 travel in the uint32 `int_value` (signed ones as two's complement), Int64, UInt64
 * and DateTime in the uint64 `long_value` (Int64 as two's complement).
 */
import protobuf from 'protobufjs';

/** Sparkplug 3.0 data types (§6.4.16), the ones floorgate uses. */
export const DataType = {
  Int8: 1, Int16: 2, Int32: 3, Int64: 4,
  UInt8: 5, UInt16: 6, UInt32: 7, UInt64: 8,
  Float: 9, Double: 10, Boolean: 11, String: 12,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** 64-bit values as protobufjs takes and gives them. */
export interface LongBits {
  readonly low: number;
  readonly high: number;
  readonly unsigned: boolean;
}

export interface PropertyValue {
  type: number;
  isNull?: boolean;
  intValue?: number;
  longValue?: number | LongBits;
  floatValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  stringValue?: string;
}

export interface Metric {
  name?: string;
  alias?: number | LongBits;
  timestamp?: number | LongBits;
  datatype?: number;
  isHistorical?: boolean;
  isTransient?: boolean;
  isNull?: boolean;
  properties?: { keys: string[]; values: PropertyValue[] };
  intValue?: number;
  longValue?: number | LongBits;
  floatValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  stringValue?: string;
  bytesValue?: Uint8Array;
}

export interface Payload {
  timestamp?: number | LongBits;
  metrics: Metric[];
  seq?: number | LongBits;
}

const valueFields = {
  intValue: { type: 'uint32', id: 10 },
  longValue: { type: 'uint64', id: 11 },
  floatValue: { type: 'float', id: 12 },
  doubleValue: { type: 'double', id: 13 },
  booleanValue: { type: 'bool', id: 14 },
  stringValue: { type: 'string', id: 15 },
  bytesValue: { type: 'bytes', id: 16 },
};

const root = protobuf.Root.fromJSON({
  nested: {
    Payload: {
      // Explicit presence, as the specification's proto2 schema: a seq of 0 (NBIRTH) or a
      // value of 0 must be on the wire, not left out as a proto3 default.
      edition: 'proto2',
      fields: {
        timestamp: { type: 'uint64', id: 1 },
        metrics: { rule: 'repeated', type: 'Metric', id: 2 },
        seq: { type: 'uint64', id: 3 },
      },
      nested: {
        PropertyValue: {
          oneofs: { value: { oneof: ['intValue', 'longValue', 'floatValue', 'doubleValue', 'booleanValue', 'stringValue'] } },
          fields: {
            type: { type: 'uint32', id: 1 },
            isNull: { type: 'bool', id: 2 },
            intValue: { type: 'uint32', id: 3 },
            longValue: { type: 'uint64', id: 4 },
            floatValue: { type: 'float', id: 5 },
            doubleValue: { type: 'double', id: 6 },
            booleanValue: { type: 'bool', id: 7 },
            stringValue: { type: 'string', id: 8 },
          },
        },
        PropertySet: {
          fields: {
            keys: { rule: 'repeated', type: 'string', id: 1 },
            values: { rule: 'repeated', type: 'PropertyValue', id: 2 },
          },
        },
        Metric: {
          oneofs: { value: { oneof: Object.keys(valueFields) } },
          fields: {
            name: { type: 'string', id: 1 },
            alias: { type: 'uint64', id: 2 },
            timestamp: { type: 'uint64', id: 3 },
            datatype: { type: 'uint32', id: 4 },
            isHistorical: { type: 'bool', id: 5 },
            isTransient: { type: 'bool', id: 6 },
            isNull: { type: 'bool', id: 7 },
            properties: { type: 'PropertySet', id: 9 },
            ...valueFields,
          },
        },
      },
    },
  },
});

const PayloadType = root.lookupType('Payload');

export function encodePayload(payload: Payload): Buffer {
  const bytes = PayloadType.encode(payload).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Throws on bytes that are not a Sparkplug B payload. Only the fields present on the wire are
 * set (protobufjs would otherwise answer defaults for absent ones, hiding which value is set).
 */
export function decodePayload(bytes: Uint8Array): Payload {
  return PayloadType.toObject(PayloadType.decode(bytes), { defaults: false, arrays: true }) as Payload;
}

const TWO_32 = 2n ** 32n;

/** A 64-bit unsigned carrier for a bigint (Int64 values in two's complement). */
export function longOf(value: bigint): LongBits {
  const u = BigInt.asUintN(64, value);
  return { low: Number(u % TWO_32) | 0, high: Number(u / TWO_32) | 0, unsigned: true };
}

/** The unsigned 64-bit value of a decoded field. */
export function bigintOf(value: number | LongBits | undefined | null): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value === 'number') return BigInt(value);
  return (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
}

/** As a number, when the value fits one exactly (seq, bdSeq, aliases, timestamps). */
export function numberOf(value: number | LongBits | undefined | null): number {
  return Number(bigintOf(value));
}
