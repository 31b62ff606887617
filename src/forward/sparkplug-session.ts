/**
 * One MQTT connection's Sparkplug state, and what it publishes of its own accord: NBIRTH, a
 * DBIRTH per device, DDEATH for a device down or gone (watched every WATCH_MS), the echo of a
 * write, all on the connection's 0–255 seq. When the births happen, and everything heard or
 * carried as data, is sparkplug-format.ts.
 */
import type { DeviceConfig } from '../config/types.js';
import type { Reading, Value } from '../driver/contract.js';
import type { Link } from './format.js';
import type { BdSeq } from './sparkplug-bdseq.js';
import { DataType, encodePayload, type Metric, type Payload } from './sparkplug-codec.js';
import { EPOCH_METRIC, REBIRTH_METRIC, SEQ_METRIC, fill, type MetricDictionary } from './sparkplug-metrics.js';
import { fits, setValue } from './sparkplug-types.js';

/** ms between checks of the devices' up/down state. */
const WATCH_MS = 250;

/** One device as the format sees it: its config, whether it answers, its last readings. */
export interface DeviceView {
  readonly config: DeviceConfig;
  readonly up: boolean;
  /** Why it is down; null while it is up or has not been tried yet. */
  readonly error: string | null;
  /** The last reading of each tag that has one (asked only for a DBIRTH). */
  last(): readonly Reading[];
}

export interface DeviceSource {
  /** Every configured device. */
  devices(): readonly DeviceView[];
  /** One of them (asked for every DDATA, so cheap). */
  device(name: string): DeviceView | undefined;
}

/** What every session of the edge node shares, for the life of the process. */
export interface EdgeNode {
  /** `spBv1.0/{group_id}`, the topics' first levels. */
  readonly ns: string;
  readonly edge: string;
  /** The buffer's stream id (MessageStore.epoch). */
  readonly epoch: string;
  readonly bdSeq: BdSeq;
  readonly source: DeviceSource;
  readonly dictionary: MetricDictionary;
  /** The highest buffer seq published per device, for the DBIRTH's floorgate/seq. */
  readonly lastSeq: ReadonlyMap<string, number>;
}

/** A device as born in the current session. */
export interface DeviceRecord {
  /** The config it was born with (replaced by an equal one after a reload that kept it). */
  config: DeviceConfig;
  /** Datatype per tag as declared in its DBIRTH. */
  readonly types: ReadonlyMap<string, DataType>;
  born: boolean;
}

export class SparkplugSession {
  /** NBIRTH published on this connection. */
  born = false;
  /** Waiting for the primary host's STATE online before the births. */
  awaitingHost = false;
  private seq = 0;
  readonly devices = new Map<string, DeviceRecord>();
  private watchTimer: NodeJS.Timeout | null = null;

  constructor(readonly link: Link, private readonly node: EdgeNode) {}

  /** NBIRTH, every DBIRTH (and DDEATH for devices down); then data may flow. */
  begin(): void {
    this.births();
    this.watchTimer ??= setInterval(() => this.watch(), WATCH_MS).unref();
    this.link.release();
  }

  stop(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
  }

  births(): void {
    const { ns, edge, bdSeq, epoch } = this.node;
    this.devices.clear();
    this.seq = 0;
    const now = Date.now();
    const payload: Payload = {
      timestamp: now,
      seq: 0,
      metrics: [
        { name: 'bdSeq', timestamp: now, datatype: DataType.Int64, longValue: bdSeq.current },
        // No alias: hosts send the rebirth request by name (Sparkplug 3.0 forbids an alias here).
        { name: REBIRTH_METRIC, timestamp: now, datatype: DataType.Boolean, booleanValue: false },
        { name: EPOCH_METRIC, timestamp: now, datatype: DataType.String, stringValue: epoch },
      ],
    };
    this.publish(`${ns}/NBIRTH/${edge}`, payload);
    this.born = true;
    this.watch();
  }

  /** Brings every device's Sparkplug state in line with the runtime's. */
  watch(): void {
    const views = this.node.source.devices();
    for (const view of views) this.sync(view);
    for (const [name, record] of this.devices) {
      if (views.some((v) => v.config.name === name)) continue;
      this.ddeath(record);
      this.devices.delete(name);
    }
  }

  /** DBIRTH a device not born (or changed) in this session, DDEATH it when it went down. */
  sync(view: DeviceView): DeviceRecord {
    let record = this.devices.get(view.config.name);
    if (record && record.config !== view.config) {
      if (JSON.stringify(record.config) === JSON.stringify(view.config)) {
        record.config = view.config;
      } else {
        this.ddeath(record);
        record = undefined;
      }
    }
    const down = !view.up && view.error !== null;
    if (!record || (!record.born && view.up)) record = this.dbirth(view);
    if (record.born && down) this.ddeath(record);
    return record;
  }

  dbirth(view: DeviceView): DeviceRecord {
    const { ns, edge, epoch, dictionary } = this.node;
    const device = view.config.name;
    const now = Date.now();
    const last = new Map(view.last().map((r) => [r.tag, r]));
    const types = new Map<string, DataType>();
    const metrics: Metric[] = [];
    for (const tag of view.config.tags) {
      const r = last.get(tag.name);
      const type = dictionary.typeOf(device, tag, r?.value ?? null);
      types.set(tag.name, type);
      const m: Metric = { name: tag.name, alias: dictionary.alias(device, tag.name), timestamp: r?.ts ?? now, datatype: type };
      fill(m, type, r ?? { value: null, quality: 'bad', error: 'not read yet' });
      metrics.push(m);
    }
    const seq = this.node.lastSeq.get(device);
    const seqMetric: Metric = { name: SEQ_METRIC, alias: dictionary.alias(device, SEQ_METRIC), timestamp: now, datatype: DataType.UInt64 };
    if (seq === undefined) seqMetric.isNull = true;
    else seqMetric.longValue = seq;
    metrics.push(seqMetric);
    metrics.push({ name: EPOCH_METRIC, alias: dictionary.alias(device, EPOCH_METRIC), timestamp: now, datatype: DataType.String, stringValue: epoch });
    this.publish(`${ns}/DBIRTH/${edge}/${device}`, { timestamp: now, seq: this.nextSeq(), metrics });
    const record: DeviceRecord = { config: view.config, types, born: true };
    this.devices.set(device, record);
    return record;
  }

  ddeath(record: DeviceRecord): void {
    if (!record.born) return;
    record.born = false;
    this.publish(`${this.node.ns}/DDEATH/${this.node.edge}/${record.config.name}`, { timestamp: Date.now(), seq: this.nextSeq(), metrics: [] });
  }

  /** A written value as the tag's current one (DDATA), so the host sees the write took. */
  echo(device: string, tag: string, value: Value): void {
    const type = this.devices.get(device)?.types.get(tag);
    if (!this.born || type === undefined || !fits(type, value)) return;
    const now = Date.now();
    const metric: Metric = { alias: this.node.dictionary.alias(device, tag), timestamp: now };
    setValue(metric, type, value);
    this.publish(`${this.node.ns}/DDATA/${this.node.edge}/${device}`, { timestamp: now, seq: this.nextSeq(), metrics: [metric] });
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) & 0xff;
    return this.seq;
  }

  private publish(topic: string, payload: Payload): void {
    this.link.publish({ topic, payload: encodePayload(payload), qos: 0, retain: false });
  }
}
