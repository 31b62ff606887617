/**
 * A message the broker refuses (mosquitto with max_packet_size: it closes the connection on a
 * larger packet) is set aside after three closes on it alone, and only that one: not the
 * messages in flight beside it (mosquitto drops the PUBACKs it had queued for them), not an
 * older backlog message published after it, at QoS 1 and 2. What arrived is judged by a
 * subscriber on the broker; the buffer is a real one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageStore } from '../../src/buffer/types.js';
import type { MqttConfig, BufferConfig } from '../../src/config/types.js';
import { encodeReadings } from '../../src/message/encode.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { SparkplugFormat } from '../../src/forward/sparkplug-format.js';
import type { WireFormat } from '../../src/forward/format.js';
import { Commands } from '../../src/commands/commands.js';
import { Metrics } from '../../src/metrics.js';
import { hasMosquitto, startBroker } from '../helpers/broker.js';
import { subscribe, type Subscriber } from '../helpers/subscriber.js';
import { needTool } from '../helpers/tools.js';
import { testConfig } from './config.js';
import { captureLog, jsonFormat, openStore, Rig, seqsOf, until, type LogCapture } from './setup.js';
import { bufferSeq, device, EDGE, GROUP, messages, modbusTag, ofType } from '../sparkplug/rig.js';

const available = needTool('mosquitto', hasMosquitto(), 'the set-aside tests (a broker with max_packet_size)');
const BROKER_LIMIT = 4000;

const rig = new Rig();
afterEach(async () => { await rig.close(); });

/** One per_device message: a few readings, or one string reading of `bytes` characters. */
function append(store: MessageStore, bytes = 0): void {
  const ts = Date.now();
  const readings = bytes > 0
    ? [{ tag: 'recipe', value: 'x'.repeat(bytes), quality: 'good' as const, ts }]
    : [{ tag: 'temperature', value: 21.5, quality: 'good' as const, ts }, { tag: 'running', value: true, quality: 'good' as const, ts }];
  store.append({ device: 'press-1', tag: null, body: encodeReadings(readings), readings: readings.length, ts });
}

interface Setup {
  store: MessageStore;
  sub: Subscriber;
  fwd: Forwarder;
  metrics: Metrics;
  capture: LogCapture;
}

async function setup(mqtt: Partial<MqttConfig> = {}, buffer: Partial<BufferConfig> = {}): Promise<Setup> {
  const broker = rig.add(await startBroker({ maxPacketSize: BROKER_LIMIT }), (b) => b.stop());
  const capture = captureLog();
  const config = testConfig({ url: broker.url, dataDir: rig.tempDir(), mqtt: { reconnect_min: 50, reconnect_max: 200, ...mqtt }, buffer });
  const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
  const sub = rig.add(await subscribe(broker.url, { topic: config.mqtt.format === 'json' ? 'fg/#' : 'spBv1.0/#' }), (s) => s.close());
  const metrics = new Metrics(false);
  let format: WireFormat = jsonFormat(config, store);
  if (config.mqtt.format === 'sparkplug_b') {
    const view = { config: device('press-1', [modbusTag('temperature', 'float32'), modbusTag('running', 'bool'), modbusTag('recipe', 'string', { length: 125 })]), up: true, error: null, last: () => [] };
    format = new SparkplugFormat({
      config, log: capture.log, epoch: store.epoch, metrics,
      source: { devices: () => [view], device: (name) => (name === view.config.name ? view : undefined) },
      commands: new Commands({ log: capture.log, target: { tagsOf: () => undefined, write: async () => {} } }),
    });
  }
  const fwd = rig.add(new Forwarder({ config, store, log: capture.log, metrics, format }), (f) => f.stop());
  return { store, sub, fwd, metrics, capture };
}

/** The buffer seqs that arrived: the JSON seq, or Sparkplug DDATA's floorgate/seq. */
function arrived(s: Setup): Set<number> {
  const sparkplug = messages(s.sub);
  const dbirth = ofType(sparkplug, 'DBIRTH')[0];
  if (!dbirth) return new Set(seqsOf(s.sub.messages));
  return new Set(ofType(sparkplug, 'DDATA').map((m) => bufferSeq(dbirth.payload, m.payload)!));
}

/** Every seq 1..last arrived except `missing`, and the buffer is empty. */
async function allBut(s: Setup, last: number, missing: number[], timeoutMs: number): Promise<void> {
  const expected = Array.from({ length: last }, (_, i) => i + 1).filter((n) => !missing.includes(n));
  await until(() => s.store.stats().messages === 0 && arrived(s).size === expected.length, timeoutMs, `seqs 1..${last} but ${missing}`);
  expect([...arrived(s)].sort((a, b) => a - b)).toEqual(expected);
}

/** What the forwarder said about closes and set-asides. */
function said(capture: LogCapture) {
  const lines = capture.lines();
  return {
    // The words in brackets after the reason of each lost connection.
    closes: lines.filter((l) => l.msg.includes('lost')).map((l) => /\(([^()]*)\)$/.exec(l.msg)?.[1] ?? l.msg),
    setAside: lines.filter((l) => l.level === 50 && l.msg.includes('set aside')),
  };
}

describe.skipIf(!available)('a message the broker refuses', () => {
  it('backlog with 64 in flight: only the refused one is set aside, after 3 closes; every other seq arrives', async () => {
    const s = await setup({ max_inflight: 64 });
    for (let i = 0; i < 100; i++) append(s.store);
    append(s.store, 6_000);
    for (let i = 0; i < 100; i++) append(s.store);
    s.store.flush();
    s.fwd.start();
    await allBut(s, 201, [101], 15_000);

    const { closes, setAside } = said(s.capture);
    expect(closes).toEqual([
      expect.stringMatching(/^\d+ data messages unanswered, seq \d+ to \d+: sending them one at a time next$/),
      expect.stringMatching(/^right after message seq 101, 6\d{3} bytes, sent alone: 1 of 3 closes before it is set aside$/),
      expect.stringMatching(/^right after message seq 101, 6\d{3} bytes, sent alone: 2 of 3 closes before it is set aside$/),
      expect.stringMatching(/^right after message seq 101, 6\d{3} bytes, sent alone: set aside$/),
    ]);
    console.log(`[set-aside] first close: ${closes[0]}`);
    expect(setAside).toHaveLength(1);
    expect(setAside[0]).toMatchObject({ seq: 101, device: 'press-1', readings: 1 });
    expect(setAside[0].msg).toContain('the broker closed the connection 3 times right after this message; it is too large or not allowed');
    expect(s.metrics.dropped.get({ reason: 'rejected_by_broker' })).toBe(1);
  });

  it('live_first: a refused live message published before older backlog ones is the one set aside, not the oldest seq', async () => {
    // The backlog drains at 40 msg/s, so live messages go out ahead of older backlog ones.
    const s = await setup({ max_inflight: 16 }, { replay: 'live_first', replay_rate: 40 });
    for (let i = 0; i < 100; i++) append(s.store);
    s.store.flush();
    s.fwd.start();
    await until(() => seqsOf(s.sub.messages).length >= 10, 5_000, 'the backlog to start draining');
    append(s.store, 6_000);
    for (let i = 0; i < 20; i++) append(s.store);
    s.store.flush();
    await allBut(s, 121, [101], 20_000);
    const { closes, setAside } = said(s.capture);
    expect(closes.slice(1).every((c) => c.startsWith('right after message seq 101,'))).toBe(true);
    expect(setAside.map((l) => l.seq)).toEqual([101]);
  });

  it('QoS 2: the messages answered with PUBREC before the refusal are not blamed, though their PUBCOMP never came', async () => {
    const s = await setup({ qos: 2, max_inflight: 64 });
    for (let i = 0; i < 50; i++) append(s.store);
    append(s.store, 6_000);
    for (let i = 0; i < 50; i++) append(s.store);
    s.store.flush();
    s.fwd.start();
    await allBut(s, 101, [51], 15_000);
    expect(said(s.capture).setAside.map((l) => l.seq)).toEqual([51]);
    expect(s.metrics.dropped.get({ reason: 'rejected_by_broker' })).toBe(1);
  });

  it('Sparkplug: the births (QoS 0, never answered) are vouched for by a PINGREQ, and only the refused DDATA is set aside', async () => {
    const s = await setup({ format: 'sparkplug_b', sparkplug: { group_id: GROUP, edge_node_id: EDGE }, max_inflight: 64 });
    for (let i = 0; i < 60; i++) append(s.store);
    append(s.store, 6_000);
    for (let i = 0; i < 60; i++) append(s.store);
    s.store.flush();
    s.fwd.start();
    await allBut(s, 121, [61], 15_000);
    expect(said(s.capture).setAside.map((l) => l.seq)).toEqual([61]);
  });
});
