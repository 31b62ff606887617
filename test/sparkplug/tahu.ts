/**
 * The independent side of the Sparkplug tests: Eclipse Tahu's JavaScript payload library
 * (sparkplug-payload), whose protobuf code was generated from the official sparkplug_b.proto
 * and runs on its own protobufjs 6. Nothing here shares code with src/forward/sparkplug-*.ts.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const generated = require('sparkplug-payload/lib/sparkplugPayloadProto.js').org.eclipse.tahu.protobuf;
const tahu = require('sparkplug-payload').get('spBv1.0');

export interface RawProperty {
  type: number;
  intValue?: number;
  longValue?: string;
  stringValue?: string;
}

/** A metric exactly as on the wire; 64-bit fields as decimal strings. */
export interface RawMetric {
  name?: string;
  alias?: string;
  timestamp?: string;
  datatype?: number;
  isHistorical?: boolean;
  isTransient?: boolean;
  isNull?: boolean;
  properties?: { keys: string[]; values: RawProperty[] };
  intValue?: number;
  longValue?: string;
  floatValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  stringValue?: string;
}

export interface RawPayload {
  timestamp?: string;
  seq?: string;
  metrics: RawMetric[];
}

export function decode(bytes: Buffer): RawPayload {
  const message = generated.Payload.decode(bytes);
  return generated.Payload.toObject(message, { longs: String, arrays: true }) as RawPayload;
}

/** A metric's value by the Sparkplug 3.0 datatype rules (§6.4.17), from its raw fields. */
export function valueOf(m: RawMetric, datatype: number): boolean | number | bigint | string | null {
  if (m.isNull) return null;
  switch (datatype) {
    case 1: return (m.intValue! << 24) >> 24;
    case 2: return (m.intValue! << 16) >> 16;
    case 3: return m.intValue! | 0;
    case 5: case 6: case 7: return m.intValue! >>> 0;
    case 4: return BigInt.asIntN(64, BigInt(m.longValue!));
    case 8: return BigInt(m.longValue!);
    case 9: return m.floatValue!;
    case 10: return m.doubleValue!;
    case 11: return m.booleanValue!;
    case 12: return m.stringValue!;
    default: throw new Error(`datatype ${datatype} not expected from floorgate`);
  }
}

/** Named property values of a metric (Quality, error). */
export function propertiesOf(m: RawMetric): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  m.properties?.keys.forEach((k, i) => {
    const v = m.properties!.values[i];
    out[k] = v.stringValue ?? v.intValue!;
  });
  return out;
}

/** A host's command payload (NCMD/DCMD), encoded by Tahu: metrics as {name|alias, type, value}. */
export function encodeCommand(metrics: { name?: string; alias?: number; type: string; value: unknown }[]): Buffer {
  return Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics }));
}
