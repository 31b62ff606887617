/**
 * The in-process Sparkplug set-up: a real broker, a real buffer, the real forwarder with the
 * Sparkplug format, and a subscriber on spBv1.0/#. The devices are views the test holds and
 * changes (the runtime's part), the PLC behind writes a recording target.
 */
import type { Logger } from 'pino';
import type { DeviceConfig, FloorgateConfig, MqttConfig, TagCommon as TagConfig } from '../../src/config/types.js';
import type { ModbusTag } from '../../drivers/modbus/schema.js';
import type { OpcuaTag } from '../../drivers/opcua/schema.js';
import type { Reading, Value } from '../../src/driver/contract.js';
import type { MessageStore } from '../../src/buffer/types.js';
import { encodeReadings } from '../../src/message/encode.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { SparkplugFormat, type DeviceView } from '../../src/forward/sparkplug-format.js';
import { Commands } from '../../src/commands/commands.js';
import { startBroker, type Broker } from '../helpers/broker.js';
import { subscribe, type Received, type Subscriber } from '../helpers/subscriber.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { testConfig } from '../forward/config.js';
import { captureLog, openStore, type LogCapture, type Rig } from '../forward/setup.js';
import { decode, type RawPayload } from './tahu.js';

export const GROUP = 'plant';
export const EDGE = 'gw-sp';
export const NS = `spBv1.0/${GROUP}`;

export function modbusTag(name: string, type: ModbusTag['type'], extra: Partial<ModbusTag> = {}): ModbusTag {
  return { name, area: 'holding', address: 0, type, byte_order: 'ABCD', poll_interval: 1000, scale: 1, offset: 0, writable: false, ...extra };
}

export function opcuaTag(name: string): OpcuaTag {
  return { name, node_id: `ns=1;s=${name}`, mode: 'poll', sampling_interval: 0, queue_size: 1, poll_interval: 1000, scale: 1, offset: 0, writable: true };
}

export function device(name: string, tags: readonly TagConfig[], driver = 'modbus_tcp'): DeviceConfig {
  return {
    name, driver, host: '127.0.0.1', port: 502, unit_id: 1, byte_order: 'ABCD', max_registers_per_read: 125, max_bits_per_read: 2000,
    max_gap: 16, poll_interval: 1000, timeout: 1000, tags,
  } as DeviceConfig;
}

/** A device the test changes at will. */
export interface MutableView {
  config: DeviceConfig;
  up: boolean;
  error: string | null;
  last: Reading[];
}

function viewOf(v: MutableView): DeviceView {
  return { config: v.config, up: v.up, error: v.error, last: () => v.last };
}

export interface SparkplugRig {
  readonly broker: Broker;
  readonly proxy: TcpProxy | null;
  readonly store: MessageStore;
  readonly sub: Subscriber;
  readonly fwd: Forwarder;
  readonly format: SparkplugFormat;
  readonly views: MutableView[];
  readonly capture: LogCapture;
  readonly config: FloorgateConfig;
  /** Writes the recording PLC received. */
  readonly writes: { device: string; tag: string; value: Value }[];
}

export interface RigOptions {
  readonly views: MutableView[];
  readonly mqtt?: Partial<MqttConfig>;
  /** Reach the broker through a fault proxy (rig.proxy). */
  readonly viaProxy?: boolean;
  readonly dataDir?: string;
  readonly log?: Logger;
  /** Start the forwarder (default true). */
  readonly start?: boolean;
}

export async function sparkplugRig(rig: Rig, opts: RigOptions): Promise<SparkplugRig> {
  const broker = rig.add(await startBroker(), (b) => b.stop());
  const proxy = opts.viaProxy ? rig.add(await startProxy({ port: broker.port }), (p) => p.close()) : null;
  const capture = captureLog();
  const config = testConfig({
    url: proxy ? `mqtt://127.0.0.1:${proxy.port}` : broker.url,
    dataDir: opts.dataDir ?? rig.tempDir(),
    mqtt: { format: 'sparkplug_b', sparkplug: { group_id: GROUP, edge_node_id: EDGE }, reconnect_min: 100, reconnect_max: 300, ...opts.mqtt },
  });
  const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
  const sub = rig.add(await subscribe(broker.url, { topic: 'spBv1.0/#' }), (s) => s.close());
  const writes: SparkplugRig['writes'] = [];
  const views = opts.views;
  const commands = new Commands({
    log: capture.log,
    target: {
      tagsOf: (name) => views.find((v) => v.config.name === name)?.config.tags,
      write: async (dev, tag, value) => { writes.push({ device: dev, tag, value }); },
    },
  });
  const source = {
    devices: () => views.map(viewOf),
    device: (name: string) => {
      const v = views.find((x) => x.config.name === name);
      return v && viewOf(v);
    },
  };
  const format = new SparkplugFormat({ config, log: capture.log, source, commands, epoch: store.epoch });
  const fwd = rig.add(new Forwarder({ config, store, log: capture.log, format }), (f) => f.stop());
  if (opts.start !== false) fwd.start();
  return { broker, proxy, store, sub, fwd, format, views, capture, config, writes };
}

/** Commits one per_device message of these readings, in the readings layout unless `encode` says otherwise. */
export function append(store: MessageStore, deviceName: string, readings: Reading[], encode = encodeReadings): void {
  let ts = readings[0].ts;
  for (const r of readings) ts = Math.min(ts, r.ts);
  store.append({ device: deviceName, tag: null, body: encode(readings), readings: readings.length, ts });
  store.flush();
}

export interface Decoded {
  readonly topic: string;
  /** NBIRTH, DDATA, … */
  readonly type: string;
  readonly device: string | undefined;
  readonly payload: RawPayload;
  readonly received: Received;
}

/** The Sparkplug messages our edge node published so far (not the host's commands), decoded independently. */
export function messages(sub: Subscriber): Decoded[] {
  const out: Decoded[] = [];
  for (const m of sub.messages) {
    const [ns, group, type, edge, dev] = m.topic.split('/');
    if (ns !== 'spBv1.0' || group !== GROUP || edge !== EDGE || type === 'NCMD' || type === 'DCMD') continue;
    out.push({ topic: m.topic, type, device: dev, payload: decode(m.raw), received: m });
  }
  return out;
}

export const ofType = (ms: readonly Decoded[], type: string): Decoded[] => ms.filter((m) => m.type === type);

/** The metric named (births) in a payload. */
export function named(p: RawPayload, name: string) {
  const m = p.metrics.find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name} in ${JSON.stringify(p.metrics.map((x) => x.name))}`);
  return m;
}

/** The buffer seq a DDATA carries (floorgate/seq, by its alias from the DBIRTH). */
export function bufferSeq(dbirth: RawPayload, ddata: RawPayload): number | undefined {
  const alias = named(dbirth, 'floorgate/seq').alias;
  const m = ddata.metrics.find((x) => x.alias === alias);
  return m?.longValue === undefined ? undefined : Number(m.longValue);
}

/**
 * Checks Sparkplug's seq rule over what the edge node published, in arrival order: NBIRTH 0,
 * every other message (except NDEATH) one more than the one before, wrapping 255 → 0.
 */
export function checkSeqRule(ms: readonly Decoded[]): void {
  let prev: number | null = null;
  for (const m of ms) {
    if (m.type === 'NDEATH') continue;
    const seq = Number(m.payload.seq);
    if (m.type === 'NBIRTH') {
      if (seq !== 0) throw new Error(`NBIRTH with seq ${seq}`);
    } else if (prev === null) {
      throw new Error(`${m.type} before any NBIRTH`);
    } else if (seq !== ((prev + 1) & 0xff)) {
      throw new Error(`${m.topic}: seq ${seq} after ${prev}`);
    }
    prev = seq;
  }
}
