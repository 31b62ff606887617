/**
 * The edge node's metrics as sparkplug-format.ts and sparkplug-session.ts publish them: floorgate's
 * own metric names, the alias and datatype of every tag (kept for the life of the process, so
 * aliases stay unique across the edge node and stable across connections), and how a reading
 * becomes a metric's value and quality properties.
 */
import type { DeviceConfig, TagCommon } from '../config/types.js';
import type { Quality, Value } from '../driver/contract.js';
import { DataType, numberOf, type Metric } from './sparkplug-codec.js';
import { configuredType, fits, setValue, typeOfValue } from './sparkplug-types.js';

/** The metric carrying the buffer's seq in every DDATA (and its last value in DBIRTH). */
export const SEQ_METRIC = 'floorgate/seq';
/** The metric carrying the buffer's stream id in NBIRTH and every DBIRTH. */
export const EPOCH_METRIC = 'floorgate/epoch';
export const REBIRTH_METRIC = 'Node Control/Rebirth';
/** Sparkplug quality codes (§6.4.9.1). */
const QUALITY_BAD = 0;
const QUALITY_STALE = 500;

/** A reading as a buffered body holds it (src/message/encode.ts). */
export interface BodyReading {
  readonly tag: string;
  readonly value: Value;
  readonly quality: Quality;
  readonly ts: number;
  readonly error?: string;
}

/** Every tag's alias and datatype, for the life of the process. */
export class MetricDictionary {
  /** device → tag → alias, for the life of the process (unique across the edge node). */
  private readonly aliases = new Map<string, Map<string, number>>();
  private readonly byAlias = new Map<number, { device: string; tag: string }>();
  private nextAlias = 1;
  /** Datatypes learned from values, for tags without a configured type (OPC UA). */
  private readonly learned = new Map<string, DataType>();

  alias(device: string, tag: string): number {
    let tags = this.aliases.get(device);
    if (!tags) {
      tags = new Map();
      this.aliases.set(device, tags);
    }
    let alias = tags.get(tag);
    if (alias === undefined) {
      alias = this.nextAlias++;
      tags.set(tag, alias);
      this.byAlias.set(alias, { device, tag });
    }
    return alias;
  }

  tagOfAlias(device: string, alias: Metric['alias']): string | undefined {
    const owner = alias === undefined ? undefined : this.byAlias.get(numberOf(alias));
    return owner?.device === device ? owner.tag : undefined;
  }

  /** The configured datatype, else the one learned from values, else the sample's, else Double. */
  typeOf(device: string, tag: TagCommon, sample: Value): DataType {
    const configured = configuredType(tag);
    if (configured !== undefined) return configured;
    const key = `${device}/${tag.name}`;
    let type = this.learned.get(key);
    if (type === undefined && sample !== null) {
      type = typeOfValue(sample);
      this.learned.set(key, type);
    }
    return type ?? DataType.Double;
  }

  /** Learns types from values that do not fit their born type (untyped tags only); true if any changed. */
  learnTypes(config: DeviceConfig, born: ReadonlyMap<string, DataType>, readings: readonly BodyReading[]): boolean {
    let changed = false;
    for (const r of readings) {
      const type = born.get(r.tag);
      if (type === undefined || r.value === null || fits(type, r.value)) continue;
      const tag = config.tags.find((t) => t.name === r.tag);
      if (!tag || configuredType(tag) !== undefined) continue;
      this.learned.set(`${config.name}/${r.tag}`, typeOfValue(r.value));
      changed = true;
    }
    return changed;
  }
}

/** Value or null, and the quality properties, of a metric. */
export function fill(m: Metric, type: DataType, r: Pick<BodyReading, 'value' | 'quality' | 'error'>): void {
  if (r.quality === 'bad' || r.value === null) {
    m.isNull = true;
    m.properties = quality(QUALITY_BAD, r.error);
    return;
  }
  if (!fits(type, r.value)) {
    m.isNull = true;
    m.properties = quality(QUALITY_BAD, `value ${String(r.value)} does not fit the metric's datatype`);
    return;
  }
  setValue(m, type, r.value);
  if (r.quality === 'uncertain') m.properties = quality(QUALITY_STALE, r.error);
}

/** The message's clock flag (reference §4.12) as the String property `clock` of each of its readings' metrics. */
export function markClock(metrics: readonly Metric[], word: string): void {
  for (const m of metrics) {
    m.properties ??= { keys: [], values: [] };
    m.properties.keys.push('clock');
    m.properties.values.push({ type: DataType.String, stringValue: word });
  }
}

function quality(code: number, error: string | undefined): NonNullable<Metric['properties']> {
  const keys = ['Quality'];
  const values: NonNullable<Metric['properties']>['values'] = [{ type: DataType.Int32, intValue: code }];
  if (error !== undefined) {
    keys.push('error');
    values.push({ type: DataType.String, stringValue: error });
  }
  return { keys, values };
}
