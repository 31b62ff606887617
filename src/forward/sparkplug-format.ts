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
 * the value with `Quality` = 500; good → the value, no properties. A message stamped by an
 * untrusted clock (reference §4.12) adds the property `clock` (String: unsynced, corrected or
 * stepped) to each. Plus `floorgate/seq` (UInt64):
 * the buffer's seq of the message (reference §3), the gap detection Sparkplug's 0–255 seq cannot carry;
 * `floorgate audit --format sparkplug_b` reads it (src/audit/sparkplug.ts).
 *
 * `floorgate/epoch` (String): the id of the buffer's seq stream (reference §4.9), in NBIRTH and every
 * DBIRTH only, never in DDATA, to save its bytes on every message: the epoch changes only with
 * the data dir, so with a restart, and every connection births again. A consumer takes a DDATA's
 * `floorgate/seq` as belonging to the epoch of its device's last DBIRTH.
 *
 * Beside this file: sparkplug-session.ts holds one connection's state and publishes its births,
 * deaths and write echoes; sparkplug-metrics.ts the metrics' aliases, datatypes and quality.
 */
import type { Logger } from 'pino';
import type { FloorgateConfig } from '../config/types.js';
import type { StoredMessage } from '../buffer/types.js';
import type { Metrics } from '../metrics.js';
import { MAX_COMMAND_BYTES, type CommandSink, type Link, type OutgoingMessage, type WireFormat } from './format.js';
import { BdSeq } from './sparkplug-bdseq.js';
import { DataType, decodePayload, encodePayload, numberOf, type Metric, type Payload } from './sparkplug-codec.js';
import { compactReadings, type ParsedCompact } from '../message/compact.js';
import { EPOCH_METRIC, MetricDictionary, REBIRTH_METRIC, SEQ_METRIC, fill, markClock, type BodyReading } from './sparkplug-metrics.js';
import { CLOCK_FLAG_NAMES } from '../clock/flag.js';
import { SparkplugSession, type DeviceSource, type EdgeNode } from './sparkplug-session.js';
import { commandValue } from './sparkplug-types.js';

export { EPOCH_METRIC, SEQ_METRIC } from './sparkplug-metrics.js';
export type { DeviceSource, DeviceView } from './sparkplug-session.js';

export interface SparkplugFormatOptions {
  readonly config: FloorgateConfig;
  readonly log: Logger;
  readonly source: DeviceSource;
  readonly commands: CommandSink;
  readonly metrics?: Metrics;
  /** The buffer's stream id (MessageStore.epoch). */
  readonly epoch: string;
}

export class SparkplugFormat implements WireFormat {
  private readonly log: Logger;
  private readonly source: DeviceSource;
  private readonly commands: CommandSink;
  private readonly metrics?: Metrics;
  private readonly bdSeq: BdSeq;
  private readonly edge: string;
  private readonly hostId: string | undefined;
  private readonly ns: string;
  private readonly stateTopic: string | undefined;
  private readonly dcmdPrefix: string;
  /** The highest buffer seq published per device, for the DBIRTH's floorgate/seq. */
  private readonly lastSeq = new Map<string, number>();
  private readonly dictionary = new MetricDictionary();
  private readonly node: EdgeNode;
  /** The newest STATE timestamp seen, across connections (older ones are stale). */
  private stateTs = -Infinity;
  private session: SparkplugSession | null = null;
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
    this.edge = sp.edge_node_id;
    this.hostId = sp.primary_host_id;
    this.ns = `spBv1.0/${sp.group_id}`;
    this.stateTopic = this.hostId === undefined ? undefined : `spBv1.0/STATE/${this.hostId}`;
    this.dcmdPrefix = `${this.ns}/DCMD/${this.edge}/`;
    this.node = { ns: this.ns, edge: this.edge, epoch: opts.epoch, bdSeq: this.bdSeq, source: this.source, dictionary: this.dictionary, lastSeq: this.lastSeq };
  }

  will(): OutgoingMessage {
    return this.ndeath(this.bdSeq.next());
  }

  offline(): OutgoingMessage[] {
    return [this.ndeath(this.bdSeq.current)];
  }

  open(link: Link): void {
    const s = new SparkplugSession(link, this.node);
    this.session = s;
    const filters = [`${this.ns}/NCMD/${this.edge}`, `${this.dcmdPrefix}+`];
    if (this.stateTopic) filters.push(this.stateTopic);
    link.subscribe(filters);
    if (this.stateTopic) {
      s.awaitingHost = true;
      this.log.info(`waiting for the primary host ${this.hostId} (${this.stateTopic}) to be online before the births; data stays in the buffer`);
      return;
    }
    s.begin();
  }

  closed(): void {
    this.session?.stop();
    this.session = null;
  }

  /** The runtime reloaded its devices: birth what is new or changed, DDEATH what is gone. */
  devicesChanged(): void {
    if (this.session?.born) this.session.watch();
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
    let record = s.sync(view);
    if (this.dictionary.learnTypes(view.config, record.types, readings)) {
      // A value showed a datatype other than the one born: the metric set changed, born again.
      s.ddeath(record);
      record = s.dbirth(view);
    }
    const metrics: Metric[] = [];
    for (const r of readings) {
      const type = record.types.get(r.tag);
      if (type === undefined) {
        this.warnOnce(`tag:${msg.device}/${r.tag}`, { device: msg.device, tag: r.tag },
          `buffered readings of tag ${msg.device}/${r.tag}, which is no longer configured, are left out of Sparkplug DDATA`);
        continue;
      }
      const m: Metric = { alias: this.dictionary.alias(msg.device, r.tag), timestamp: r.ts };
      fill(m, type, r);
      metrics.push(m);
    }
    if (msg.clock) markClock(metrics, CLOCK_FLAG_NAMES[msg.clock]);
    metrics.push({ alias: this.dictionary.alias(msg.device, SEQ_METRIC), timestamp: msg.ts, longValue: msg.seq });
    if (historical) for (const m of metrics) m.isHistorical = true;
    this.lastSeq.set(msg.device, Math.max(msg.seq, this.lastSeq.get(msg.device) ?? 0));
    return encodePayload({ timestamp: Date.now(), seq: s.nextSeq(), metrics });
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

  private ndeath(bdSeq: number): OutgoingMessage {
    const now = Date.now();
    const payload = encodePayload({ timestamp: now, metrics: [{ name: 'bdSeq', timestamp: now, datatype: DataType.Int64, longValue: bdSeq }] });
    return { topic: `${this.ns}/NDEATH/${this.edge}`, payload, qos: 1, retain: false };
  }

  private onState(s: SparkplugSession, payload: Buffer): void {
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
      s.begin();
    } else if (s.born) {
      this.log.warn(`primary host ${this.hostId} went offline: NDEATH and disconnecting; data stays in the buffer until it is back`);
      s.link.publish(this.ndeath(this.bdSeq.current));
      s.link.close(`the primary host ${this.hostId} went offline`);
    }
  }

  private onNcmd(s: SparkplugSession, decoded: Payload): void {
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
      s.births();
    }
  }

  private onDcmd(s: SparkplugSession, device: string, decoded: Payload): void {
    for (const m of decoded.metrics) {
      if (!this.commands.admit()) continue;
      const fields = { device, metric: m.name ?? numberOf(m.alias), source: 'sparkplug' };
      const tag = m.name ?? this.dictionary.tagOfAlias(device, m.alias);
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
        if (outcome.ok && this.session === s) s.echo(device, tag, outcome.value);
      });
    }
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

/**
 * The readings of a buffered message; per_tag bodies carry one without its tag name, and a
 * per_device body committed under json_layout compact (before a switch to Sparkplug) is an object.
 */
function parseBody(msg: StoredMessage): BodyReading[] {
  const body = JSON.parse(msg.body) as BodyReading[] | Omit<BodyReading, 'tag'> | ParsedCompact<BodyReading>;
  if (Array.isArray(body)) return body;
  if (msg.tag === null) return compactReadings(body as ParsedCompact<BodyReading>);
  return [{ ...(body as Omit<BodyReading, 'tag'>), tag: msg.tag }];
}
