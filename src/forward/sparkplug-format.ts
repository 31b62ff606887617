/**
 * The Sparkplug B wire format (Sparkplug 3.0; reference §3), as an edge node `edge_node_id` in
 * group `group_id` with one Sparkplug device per floorgate device.
 *
 * Session, per MQTT connection:
 * - CONNECT carries the NDEATH will with the next bdSeq (persisted, see sparkplug-bdseq.ts).
 * - After CONNACK: subscribe to NCMD, DCMD and, with `primary_host_id`, the host's STATE; then
 *   (at once, or once that STATE says online) NBIRTH (seq 0, bdSeq, `Node Control/Rebirth`,
 *   `floorgate/epoch`), a DBIRTH per device with every tag (name, alias, datatype, current
 *   value) and `floorgate/seq` and `floorgate/epoch`, then DDEATH for the devices that are down. Only then does buffered data flow: the backlog first as
 *   DDATA with `is_historical` on every metric and the readings' own timestamps, in seq order.
 * - seq runs 0–255 and wraps over NBIRTH (0), DBIRTH, DDATA and DDEATH.
 * - A device that goes down gets a DDEATH, one that comes back a DBIRTH (checked every
 *   WATCH_MS and before each of its DDATA). A device whose tags changed on reload is born again.
 *   Buffered DDATA of a device that is down still goes out (its readings are history, and the
 *   transition itself arrives as null values with Quality 0).
 * - NCMD `Node Control/Rebirth` = true: the births again, same bdSeq.
 * - STATE online:false newer than the last STATE seen, while born: NDEATH, DISCONNECT, and the
 *   connection starts over (a new bdSeq) and waits for online: data stays in the buffer.
 * - Intentional stop: NDEATH, then DISCONNECT (the forwarder's stop()).
 *
 * DDATA and its QoS: buffered data goes out at mqtt.qos (default 1, not the 0 Sparkplug asks
 * for) because the store-and-forward guarantee rests on the broker's acknowledgement; births,
 * deaths and write echoes follow the specification (QoS 0, NDEATH QoS 1).
 *
 * Metrics of a DDATA: one per reading, by alias, with its timestamp; quality bad → is_null and
 * the property `Quality` (Int32) = 0 plus `error` (String) when floorgate knows why; uncertain →
 * the value with `Quality` = 500; good → the value, no properties. Plus `floorgate/seq` (UInt64):
 * the buffer's seq of the message (reference §3), the gap detection Sparkplug's 0–255 seq cannot carry;
 * `floorgate audit --format sparkplug_b` reads it (src/audit/sparkplug.ts).
 *
 * `floorgate/epoch` (String): the id of the buffer's seq stream (reference §4.9), in NBIRTH and every
 * DBIRTH only, never in DDATA, to save its bytes on every message: the epoch changes only with
 * the data dir, so with a restart, and every connection births again. A consumer takes a DDATA's
 * `floorgate/seq` as belonging to the epoch of its device's last DBIRTH.
 */
import type { Logger } from 'pino';
import type { DeviceConfig, FloorgateConfig, TagCommon } from '../config/types.js';
import type { Quality, Reading, Value } from '../driver/contract.js';
import type { StoredMessage } from '../buffer/types.js';
import type { Metrics } from '../metrics.js';
import { MAX_COMMAND_BYTES, type CommandSink, type Link, type OutgoingMessage, type WireFormat } from './format.js';
import { BdSeq } from './sparkplug-bdseq.js';
import { DataType, decodePayload, encodePayload, numberOf, type Metric, type Payload } from './sparkplug-codec.js';
import { commandValue, configuredType, fits, setValue, typeOfValue } from './sparkplug-types.js';

/** The metric carrying the buffer's seq in every DDATA (and its last value in DBIRTH). */
export const SEQ_METRIC = 'floorgate/seq';
/** The metric carrying the buffer's stream id in NBIRTH and every DBIRTH. */
export const EPOCH_METRIC = 'floorgate/epoch';
export const REBIRTH_METRIC = 'Node Control/Rebirth';
/** Sparkplug quality codes (§6.4.9.1). */
const QUALITY_BAD = 0;
const QUALITY_STALE = 500;
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

export interface SparkplugFormatOptions {
  readonly config: FloorgateConfig;
  readonly log: Logger;
  readonly source: DeviceSource;
  readonly commands: CommandSink;
  readonly metrics?: Metrics;
  /** The buffer's stream id (MessageStore.epoch). */
  readonly epoch: string;
}

/** A reading as a buffered body holds it (src/message/encode.ts). */
interface BodyReading {
  readonly tag: string;
  readonly value: Value;
  readonly quality: Quality;
  readonly ts: number;
  readonly error?: string;
}

/** A device as born in the current session. */
interface DeviceRecord {
  /** The config it was born with (replaced by an equal one after a reload that kept it). */
  config: DeviceConfig;
  /** Datatype per tag as declared in its DBIRTH. */
  readonly types: ReadonlyMap<string, DataType>;
  born: boolean;
}

/** One MQTT connection's Sparkplug state. */
interface Session {
  readonly link: Link;
  /** NBIRTH published on this connection. */
  born: boolean;
  /** Waiting for the primary host's STATE online before the births. */
  awaitingHost: boolean;
  seq: number;
  readonly devices: Map<string, DeviceRecord>;
  watch: NodeJS.Timeout | null;
}

export class SparkplugFormat implements WireFormat {
  private readonly log: Logger;
  private readonly source: DeviceSource;
  private readonly commands: CommandSink;
  private readonly metrics?: Metrics;
  private readonly bdSeq: BdSeq;
  private readonly epoch: string;
  private readonly edge: string;
  private readonly hostId: string | undefined;
  private readonly ns: string;
  private readonly stateTopic: string | undefined;
  private readonly dcmdPrefix: string;
  /** device → tag → alias, for the life of the process (unique across the edge node). */
  private readonly aliases = new Map<string, Map<string, number>>();
  private readonly byAlias = new Map<number, { device: string; tag: string }>();
  private nextAlias = 1;
  /** Datatypes learned from values, for tags without a configured type (OPC UA). */
  private readonly learned = new Map<string, DataType>();
  /** The highest buffer seq published per device, for the DBIRTH's floorgate/seq. */
  private readonly lastSeq = new Map<string, number>();
  /** The newest STATE timestamp seen, across connections (older ones are stale). */
  private stateTs = -Infinity;
  private session: Session | null = null;
  /** What was already logged once (devices and tags no longer configured). */
  private readonly warned = new Set<string>();

  constructor(opts: SparkplugFormatOptions) {
    const sp = opts.config.mqtt.sparkplug;
    if (!sp) throw new Error('mqtt.format sparkplug_b needs mqtt.sparkplug');
    this.log = opts.log;
    this.source = opts.source;
    this.commands = opts.commands;
    this.metrics = opts.metrics;
    this.bdSeq = new BdSeq(opts.config.gateway.data_dir, opts.log);
    this.epoch = opts.epoch;
    this.edge = sp.edge_node_id;
    this.hostId = sp.primary_host_id;
    this.ns = `spBv1.0/${sp.group_id}`;
    this.stateTopic = this.hostId === undefined ? undefined : `spBv1.0/STATE/${this.hostId}`;
    this.dcmdPrefix = `${this.ns}/DCMD/${this.edge}/`;
  }

  will(): OutgoingMessage {
    return this.ndeath(this.bdSeq.next());
  }

  offline(): OutgoingMessage[] {
    return [this.ndeath(this.bdSeq.current)];
  }

  open(link: Link): void {
    const s: Session = { link, born: false, awaitingHost: false, seq: 0, devices: new Map(), watch: null };
    this.session = s;
    const filters = [`${this.ns}/NCMD/${this.edge}`, `${this.dcmdPrefix}+`];
    if (this.stateTopic) filters.push(this.stateTopic);
    link.subscribe(filters);
    if (this.stateTopic) {
      s.awaitingHost = true;
      this.log.info(`waiting for the primary host ${this.hostId} (${this.stateTopic}) to be online before the births; data stays in the buffer`);
      return;
    }
    this.begin(s);
  }

  closed(): void {
    if (this.session?.watch) clearInterval(this.session.watch);
    this.session = null;
  }

  /** The runtime reloaded its devices: birth what is new or changed, DDEATH what is gone. */
  devicesChanged(): void {
    if (this.session?.born) this.watch(this.session);
  }

  topic(msg: StoredMessage): string {
    return `${this.ns}/DDATA/${this.edge}/${msg.device}`;
  }

  payload(msg: StoredMessage, historical: boolean): Buffer | null {
    const s = this.session;
    if (!s?.born) throw new Error('Sparkplug: data before the births (a forwarder bug)');
    const view = this.source.device(msg.device);
    if (!view) {
      this.warnOnce(`device:${msg.device}`, { device: msg.device },
        `buffered readings of device ${msg.device}, which is no longer configured, cannot be published in Sparkplug (no DBIRTH): dropped`);
      this.metrics?.dropped.inc({ reason: 'device_removed' }, msg.readings);
      return null;
    }
    const readings = parseBody(msg);
    let record = this.sync(s, view);
    if (this.learnTypes(view.config, record, readings)) {
      // A value showed a datatype other than the one born: the metric set changed, born again.
      this.ddeath(s, record);
      record = this.dbirth(s, view);
    }
    const metrics: Metric[] = [];
    for (const r of readings) {
      const type = record.types.get(r.tag);
      if (type === undefined) {
        this.warnOnce(`tag:${msg.device}/${r.tag}`, { device: msg.device, tag: r.tag },
          `buffered readings of tag ${msg.device}/${r.tag}, which is no longer configured, are left out of Sparkplug DDATA`);
        continue;
      }
      const m: Metric = { alias: this.alias(msg.device, r.tag), timestamp: r.ts };
      fill(m, type, r);
      metrics.push(m);
    }
    metrics.push({ alias: this.alias(msg.device, SEQ_METRIC), timestamp: msg.ts, longValue: msg.seq });
    if (historical) for (const m of metrics) m.isHistorical = true;
    this.lastSeq.set(msg.device, Math.max(msg.seq, this.lastSeq.get(msg.device) ?? 0));
    return encodePayload({ timestamp: Date.now(), seq: this.nextSeq(s), metrics });
  }

  message(topic: string, payload: Buffer, retained: boolean): void {
    const s = this.session;
    if (!s) return;
    if (topic === this.stateTopic) {
      if (payload.length <= MAX_COMMAND_BYTES) this.onState(s, payload);
      else this.log.warn({ bytes: payload.length }, `STATE ignored: over the ${MAX_COMMAND_BYTES}-byte limit`);
      return;
    }
    const device = topic.startsWith(this.dcmdPrefix) ? topic.slice(this.dcmdPrefix.length) : null;
    if (device === null && topic !== `${this.ns}/NCMD/${this.edge}`) return;
    const kind = device === null ? 'NCMD' : 'DCMD';
    // The host publishes commands unretained; a retained one would fire at every reconnect.
    const problem = retained ? `retained ${kind} ignored`
      : payload.length > MAX_COMMAND_BYTES ? `${kind} of ${payload.length} bytes ignored: over the ${MAX_COMMAND_BYTES}-byte limit` : null;
    const decoded = problem === null ? decode(payload) : null;
    if (!decoded) {
      // Counted against the rate limit too, so garbage cannot flood the log.
      if (this.commands.admit()) this.commands.refuse({ topic }, problem ?? `${kind} ignored: not a Sparkplug B payload`);
      return;
    }
    if (device === null) this.onNcmd(s, decoded);
    else this.onDcmd(s, device, decoded);
  }

  /** NBIRTH, every DBIRTH (and DDEATH for devices down); then data may flow. */
  private begin(s: Session): void {
    this.births(s);
    s.watch ??= setInterval(() => this.watch(s), WATCH_MS).unref();
    s.link.release();
  }

  private births(s: Session): void {
    s.devices.clear();
    s.seq = 0;
    const now = Date.now();
    const payload: Payload = {
      timestamp: now,
      seq: 0,
      metrics: [
        { name: 'bdSeq', timestamp: now, datatype: DataType.Int64, longValue: this.bdSeq.current },
        // No alias: hosts send the rebirth request by name (Sparkplug 3.0 forbids an alias here).
        { name: REBIRTH_METRIC, timestamp: now, datatype: DataType.Boolean, booleanValue: false },
        { name: EPOCH_METRIC, timestamp: now, datatype: DataType.String, stringValue: this.epoch },
      ],
    };
    this.publish(s, `${this.ns}/NBIRTH/${this.edge}`, payload);
    s.born = true;
    this.watch(s);
  }

  /** Brings every device's Sparkplug state in line with the runtime's. */
  private watch(s: Session): void {
    const views = this.source.devices();
    for (const view of views) this.sync(s, view);
    for (const [name, record] of s.devices) {
      if (views.some((v) => v.config.name === name)) continue;
      this.ddeath(s, record);
      s.devices.delete(name);
    }
  }

  /** DBIRTH a device not born (or changed) in this session, DDEATH it when it went down. */
  private sync(s: Session, view: DeviceView): DeviceRecord {
    let record = s.devices.get(view.config.name);
    if (record && record.config !== view.config) {
      if (JSON.stringify(record.config) === JSON.stringify(view.config)) {
        record.config = view.config;
      } else {
        this.ddeath(s, record);
        record = undefined;
      }
    }
    const down = !view.up && view.error !== null;
    if (!record || (!record.born && view.up)) record = this.dbirth(s, view);
    if (record.born && down) this.ddeath(s, record);
    return record;
  }

  private dbirth(s: Session, view: DeviceView): DeviceRecord {
    const device = view.config.name;
    const now = Date.now();
    const last = new Map(view.last().map((r) => [r.tag, r]));
    const types = new Map<string, DataType>();
    const metrics: Metric[] = [];
    for (const tag of view.config.tags) {
      const r = last.get(tag.name);
      const type = this.typeOf(device, tag, r?.value ?? null);
      types.set(tag.name, type);
      const m: Metric = { name: tag.name, alias: this.alias(device, tag.name), timestamp: r?.ts ?? now, datatype: type };
      fill(m, type, r ?? { value: null, quality: 'bad', error: 'not read yet' });
      metrics.push(m);
    }
    const seq = this.lastSeq.get(device);
    const seqMetric: Metric = { name: SEQ_METRIC, alias: this.alias(device, SEQ_METRIC), timestamp: now, datatype: DataType.UInt64 };
    if (seq === undefined) seqMetric.isNull = true;
    else seqMetric.longValue = seq;
    metrics.push(seqMetric);
    metrics.push({ name: EPOCH_METRIC, alias: this.alias(device, EPOCH_METRIC), timestamp: now, datatype: DataType.String, stringValue: this.epoch });
    this.publish(s, `${this.ns}/DBIRTH/${this.edge}/${device}`, { timestamp: now, seq: this.nextSeq(s), metrics });
    const record: DeviceRecord = { config: view.config, types, born: true };
    s.devices.set(device, record);
    return record;
  }

  private ddeath(s: Session, record: DeviceRecord): void {
    if (!record.born) return;
    record.born = false;
    this.publish(s, `${this.ns}/DDEATH/${this.edge}/${record.config.name}`, { timestamp: Date.now(), seq: this.nextSeq(s), metrics: [] });
  }

  private publish(s: Session, topic: string, payload: Payload): void {
    s.link.publish({ topic, payload: encodePayload(payload), qos: 0, retain: false });
  }

  private ndeath(bdSeq: number): OutgoingMessage {
    const now = Date.now();
    const payload = encodePayload({ timestamp: now, metrics: [{ name: 'bdSeq', timestamp: now, datatype: DataType.Int64, longValue: bdSeq }] });
    return { topic: `${this.ns}/NDEATH/${this.edge}`, payload, qos: 1, retain: false };
  }

  private nextSeq(s: Session): number {
    s.seq = (s.seq + 1) & 0xff;
    return s.seq;
  }

  private alias(device: string, tag: string): number {
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

  /** The configured datatype, else the one learned from values, else the sample's, else Double. */
  private typeOf(device: string, tag: TagCommon, sample: Value): DataType {
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
  private learnTypes(config: DeviceConfig, record: DeviceRecord, readings: readonly BodyReading[]): boolean {
    let changed = false;
    for (const r of readings) {
      const type = record.types.get(r.tag);
      if (type === undefined || r.value === null || fits(type, r.value)) continue;
      const tag = config.tags.find((t) => t.name === r.tag);
      if (!tag || configuredType(tag) !== undefined) continue;
      this.learned.set(`${config.name}/${r.tag}`, typeOfValue(r.value));
      changed = true;
    }
    return changed;
  }

  private onState(s: Session, payload: Buffer): void {
    let state: { online?: unknown; timestamp?: unknown };
    try {
      state = JSON.parse(payload.toString('utf8'));
    } catch {
      state = {};
    }
    if (typeof state?.online !== 'boolean' || typeof state.timestamp !== 'number') {
      this.log.warn({ topic: this.stateTopic }, 'STATE ignored: not {"online": true|false, "timestamp": …}');
      return;
    }
    if (state.timestamp < this.stateTs) {
      this.log.debug({ timestamp: state.timestamp }, 'STATE older than the last one seen: ignored');
      return;
    }
    this.stateTs = state.timestamp;
    if (state.online) {
      if (!s.awaitingHost) return;
      s.awaitingHost = false;
      this.log.info(`primary host ${this.hostId} is online: publishing the births`);
      this.begin(s);
    } else if (s.born) {
      this.log.warn(`primary host ${this.hostId} went offline: NDEATH and disconnecting; data stays in the buffer until it is back`);
      s.link.publish(this.ndeath(this.bdSeq.current));
      s.link.close(`the primary host ${this.hostId} went offline`);
    }
  }

  private onNcmd(s: Session, decoded: Payload): void {
    for (const m of decoded.metrics) {
      if (m.name !== REBIRTH_METRIC) {
        this.log.warn({ metric: m.name ?? numberOf(m.alias) }, 'NCMD metric not supported: ignored');
        continue;
      }
      if (m.booleanValue !== true || !this.commands.admit()) continue;
      if (!s.born) {
        this.log.info('rebirth request while waiting for the primary host: the births follow when it is online');
        continue;
      }
      this.log.info('rebirth requested (NCMD): publishing the births again');
      this.births(s);
    }
  }

  private onDcmd(s: Session, device: string, decoded: Payload): void {
    for (const m of decoded.metrics) {
      if (!this.commands.admit()) continue;
      const fields = { device, metric: m.name ?? numberOf(m.alias), source: 'sparkplug' };
      const tag = m.name ?? this.tagOfAlias(device, m.alias);
      if (tag === undefined || tag === SEQ_METRIC || tag === EPOCH_METRIC) {
        this.commands.refuse(fields, `DCMD for ${device}: no such metric`);
        continue;
      }
      const value = commandValue(m, s.devices.get(device)?.types.get(tag));
      if (value === undefined) {
        this.commands.refuse(fields, `DCMD for ${device}/${tag} carries no value`);
        continue;
      }
      void this.commands.write(device, tag, value, 'sparkplug').then((outcome) => {
        if (outcome.ok) this.echo(s, device, tag, outcome.value);
      });
    }
  }

  /** A written value as the tag's current one (DDATA), so the host sees the write took. */
  private echo(s: Session, device: string, tag: string, value: Value): void {
    const type = s.devices.get(device)?.types.get(tag);
    if (this.session !== s || !s.born || type === undefined || !fits(type, value)) return;
    const now = Date.now();
    const metric: Metric = { alias: this.alias(device, tag), timestamp: now };
    setValue(metric, type, value);
    this.publish(s, `${this.ns}/DDATA/${this.edge}/${device}`, { timestamp: now, seq: this.nextSeq(s), metrics: [metric] });
  }

  private tagOfAlias(device: string, alias: Metric['alias']): string | undefined {
    const owner = alias === undefined ? undefined : this.byAlias.get(numberOf(alias));
    return owner?.device === device ? owner.tag : undefined;
  }

  private warnOnce(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(fields, message);
  }
}

function decode(payload: Buffer): Payload | null {
  try {
    return decodePayload(payload);
  } catch {
    return null;
  }
}

/** The readings of a buffered message; per_tag bodies carry one without its tag name. */
function parseBody(msg: StoredMessage): BodyReading[] {
  const body = JSON.parse(msg.body) as BodyReading[] | Omit<BodyReading, 'tag'>;
  return Array.isArray(body) ? body : [{ ...body, tag: msg.tag! }];
}

/** Value or null, and the quality properties, of a metric. */
function fill(m: Metric, type: DataType, r: Pick<BodyReading, 'value' | 'quality' | 'error'>): void {
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

function quality(code: number, error: string | undefined): NonNullable<Metric['properties']> {
  const keys = ['Quality'];
  const values: NonNullable<Metric['properties']>['values'] = [{ type: DataType.Int32, intValue: code }];
  if (error !== undefined) {
    keys.push('error');
    values.push({ type: DataType.String, stringValue: error });
  }
  return { keys, values };
}
