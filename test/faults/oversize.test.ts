/**
 * One oversize message never stalls the pipeline (reference §4.10), through the real daemon: a
 * mosquitto that disconnects a client sending a packet over 4000 bytes (max_packet_size), a
 * 3-tag device polled every 100 ms, and a 300-tag device whose poll encodes to ~20 KB, each on
 * its own simulated PLC (so the big one's served polls are counted on its own).
 *
 * - max_message_bytes at the broker's limit: the big polls are split before they are committed,
 *   every seq arrives, the parts carry every reading in order, the small device keeps its rate.
 * - max_message_bytes above the broker's limit: each big message is refused; it is set aside and
 *   counted, the audit's gaps are exactly the seqs set aside, everything else arrives.
 * - a single value too large for any message (a long line from a serial instrument on a socat
 *   pty pair): it goes out as null and bad with the reason, counted and logged once per tag.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';
import { startSerialSim } from '../../drivers/serial/sim.js';
import { readBufferStats } from '../../src/buffer/stats.js';
import { startPtyPair } from '../../src/serial/pty-pair.js';
import { hasMosquitto, startBroker } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, writeGatewayConfig, type CliProcess, type GatewayConfigOptions } from '../helpers/gateway.js';
import { recordFigures } from '../helpers/results.js';
import { subscribe, type Received, type Subscriber } from '../helpers/subscriber.js';
import { needTool, onPath } from '../helpers/tools.js';
import { audit, dataMessages, eventually, getText, metric } from './rig.js';

const available = needTool('mosquitto', hasMosquitto(), 'the oversize tests (a broker with max_packet_size)');
const hasSocat = needTool('socat', onPath('socat'), 'the too-large serial value test (a pty pair)');
const BROKER_LIMIT = 4000;
const BIG = 'line-a';
const BIG_TAGS = 300;
const SMALL_TOPIC = 'floorgate/test-gw/press-1';
const BIG_TOPIC = `floorgate/test-gw/${BIG}`;

const tagName = (i: number) => `register_${String(i).padStart(3, '0')}`;

/** 300 holding registers in a row: three reads of 125, 125 and 50 per poll. */
function bigDevice(port: number, pollInterval: string): string {
  const tags = Array.from({ length: BIG_TAGS }, (_, i) => `      - { name: ${tagName(i)}, area: holding, address: ${i}, type: uint16 }\n`).join('');
  return `  - name: ${BIG}\n    driver: modbus_tcp\n    host: 127.0.0.1\n    port: ${port}\n    poll_interval: ${pollInterval}\n    timeout: 500ms\n    tags:\n${tags}`;
}

interface Bench {
  dir: string;
  small: ModbusSim;
  big: ModbusSim;
  sub: Subscriber;
  base: GatewayConfigOptions;
  gw: CliProcess;
  httpPort: number;
}

/** What a test started, closed in reverse order after it. */
const closers: (() => unknown)[] = [];
const closing = <T>(x: T, close: (x: T) => unknown): T => {
  closers.push(() => close(x));
  return x;
};

afterEach(async () => {
  await stopAll();
  for (const close of closers.splice(0).reverse()) await close();
});

/** Broker, both PLCs, a subscriber and `floorgate run`; `extraDevices(bigPort)` beside press-1. */
async function start(maxMessageBytes: string | number, extraDevices: (bigPort: number) => string): Promise<Bench> {
  const dir = closing(tempDir('floorgate-oversize-'), (d) => fs.rmSync(d, { recursive: true, force: true }));
  const broker = closing(await startBroker({ maxPacketSize: BROKER_LIMIT }), (x) => x.kill());
  const small = closing(await startModbusSim(), (x) => x.close());
  const big = closing(await startModbusSim(), (x) => x.close());
  const sub = closing(await subscribe(broker.url, { topic: 'floorgate/#' }), (x) => x.close());
  const base: GatewayConfigOptions = { dir, mqttPort: broker.port, modbusPort: small.port, httpPort: 0, mqtt: { max_message_bytes: maxMessageBytes } };
  const gw = runCli(['run', '-c', writeGatewayConfig({ ...base, extraDevices: extraDevices(big.port) })]);
  const line = await gw.waitFor((_l, j) => j?.msg === 'floorgate started', 20_000);
  return { dir, small, big, sub, base, gw, httpPort: (JSON.parse(line) as { http_port: number }).http_port };
}

/** The PUBLISH packet the broker took for this message: the same topic and payload floorgate sent. */
const packetBytes = (m: Received): number =>
  generate({ cmd: 'publish', topic: m.topic, payload: m.raw, qos: 1, messageId: 1, retain: false, dup: false }).length;

/** Data messages in seq order, each seq once. */
function bySeq(messages: readonly Received[]): Received[] {
  const seen = new Map<number, Received>();
  for (const m of dataMessages(messages)) if (!seen.has(m.payload.seq)) seen.set(m.payload.seq, m);
  return [...seen.values()].sort((a, b) => a.payload.seq - b.payload.seq);
}

/**
 * The small device upstream: its distinct messages, the longest wait between two arrivals, and
 * messages per second.
 */
function smallFlow(messages: readonly Received[]): { messages: number; maxGapMs: number; perSecond: number } {
  const at = messages.filter((m) => m.topic === SMALL_TOPIC).map((m) => m.arrivedAt);
  let maxGapMs = 0;
  for (let i = 1; i < at.length; i++) maxGapMs = Math.max(maxGapMs, at[i] - at[i - 1]);
  const distinct = new Set(messages.filter((m) => m.topic === SMALL_TOPIC).map((m) => m.payload.seq)).size;
  return { messages: distinct, maxGapMs, perSecond: (at.length - 1) / ((at[at.length - 1] - at[0]) / 1000) };
}

const logged = (gw: CliProcess, pred: (j: Record<string, unknown>) => boolean): Record<string, unknown>[] =>
  gw.stdout.flatMap((l) => {
    try {
      const j = JSON.parse(l) as Record<string, unknown>;
      return pred(j) ? [j] : [];
    } catch {
      return [];
    }
  });

describe.skipIf(!available)('a broker that refuses packets over 4000 bytes', () => {
  it('max_message_bytes 4000: big polls split before commit, every seq and every reading arrives in order, the small device keeps its rate', async () => {
    const b = await start(BROKER_LIMIT, (port) => bigDevice(port, '1s'));
    const bigReadings = () => bySeq(b.sub.messages).filter((m) => m.topic === BIG_TOPIC).flatMap((m) => m.payload.readings as { tag: string }[]);
    await b.sub.waitFor(() => bigReadings().length >= 6 * BIG_TAGS, 30_000);
    // Everything committed so far has arrived.
    const committed = readBufferStats(`${b.dir}/data/buffer.db`).last_seq;
    await eventually(() => (audit(b.sub.messages).lastSeq ?? 0) >= committed, 10_000, `seq ${committed} to arrive`);

    const report = audit(b.sub.messages);
    expect(report).toMatchObject({ firstSeq: 1, missing: 0, openGaps: 0 });
    const big = bySeq(b.sub.messages).filter((m) => m.topic === BIG_TOPIC);
    const sizes = big.map(packetBytes);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(BROKER_LIMIT);
    // In seq order, the parts give back whole polls: register_000 … register_299, again and again.
    const tags = bigReadings().map((r) => r.tag);
    const whole = tags.length - (tags.length % BIG_TAGS);
    expect(tags.slice(0, whole)).toEqual(Array.from({ length: whole }, (_, i) => tagName(i % BIG_TAGS)));
    const polls = whole / BIG_TAGS;
    // The big PLC served at least those polls (three reads each).
    expect(b.big.requests(3)).toBeGreaterThanOrEqual(polls * 3);

    // Every poll of the small device (one coil read each, on its own PLC) arrived, never held up.
    const flow = smallFlow(b.sub.messages);
    expect(flow.messages).toBeGreaterThanOrEqual(b.small.requests(1) - 3);
    expect(flow.maxGapMs).toBeLessThan(1_000);
    expect(logged(b.gw, (j) => typeof j.msg === 'string' && j.msg.includes('lost'))).toEqual([]);
    const metrics = await getText(b.httpPort, '/metrics');
    expect(metric(metrics, 'floorgate_dropped_total', { reason: 'rejected_by_broker' })).toBeUndefined();
    expect(metric(metrics, 'floorgate_dropped_total', { reason: 'too_large' })).toBeUndefined();
    expect(await b.gw.stop('SIGTERM')).toBe(0);

    const bodyBytes = big.reduce((n, m) => n + Buffer.byteLength(JSON.stringify(m.payload.readings)), 0);
    recordFigures('oversize: split under max_message_bytes', {
      poll_bytes: Math.round(bodyBytes / (tags.length / BIG_TAGS)),
      parts_per_poll: (big.length / (tags.length / BIG_TAGS)).toFixed(1),
      largest_packet: Math.max(...sizes),
      small_msgs_per_s: flow.perSecond.toFixed(1),
      small_max_gap_ms: flow.maxGapMs,
    });
  }, 60_000);

  it('max_message_bytes 64KiB: each refused message is set aside and counted, the gaps are exactly those seqs, the rest flows', async () => {
    const b = await start('64KiB', (port) => bigDevice(port, '2s'));
    const setAside = () => logged(b.gw, (j) => j.level === 50 && typeof j.msg === 'string' && j.msg.includes('set aside'));
    await eventually(() => setAside().length >= 3, 30_000, 'three messages set aside');

    // No more big polls from here: what it committed is set aside, then only the small device flows.
    const seen = b.gw.stdout.length;
    writeGatewayConfig(b.base);
    b.gw.child.kill('SIGHUP');
    await b.gw.waitFor((l, j) => b.gw.stdout.indexOf(l) >= seen && j?.msg === 'configuration reloaded');
    const bigPolled = async () => metric(await getText(b.httpPort, '/metrics'), 'floorgate_readings_total', { device: BIG })!;
    await eventually(async () => setAside().length * BIG_TAGS === (await bigPolled()), 20_000, 'every big message set aside');
    const committed = readBufferStats(`${b.dir}/data/buffer.db`).last_seq;
    await eventually(() => (audit(b.sub.messages).lastSeq ?? 0) >= committed, 10_000, `seq ${committed} to arrive`);

    const asides = setAside();
    const report = audit(b.sub.messages);
    const gapSeqs = report.gaps.flatMap((g) => Array.from({ length: g.to - g.from + 1 }, (_, i) => g.from + i));
    expect(gapSeqs).toEqual(asides.map((j) => j.seq));
    expect(report).toMatchObject({ firstSeq: 1, missing: asides.length, openGaps: asides.length });
    for (const j of asides) {
      expect(j).toMatchObject({ device: BIG, readings: BIG_TAGS });
      expect(j.bytes).toBeGreaterThan(BROKER_LIMIT);
      expect(j.msg).toContain('the broker closed the connection 3 times right after this message; it is too large or not allowed');
    }
    // Nothing of the big device got through; every one of its polls was set aside.
    expect(b.sub.messages.some((m) => m.topic === BIG_TOPIC)).toBe(false);
    const metrics = await getText(b.httpPort, '/metrics');
    expect(metric(metrics, 'floorgate_dropped_total', { reason: 'rejected_by_broker' })).toBe(asides.length * BIG_TAGS);
    // Independent of the daemon's counters: the big PLC served each of those polls (three reads each).
    expect(b.big.requests(3)).toBeGreaterThanOrEqual(asides.length * 3);

    const flow = smallFlow(b.sub.messages);
    expect(flow.messages).toBeGreaterThanOrEqual(b.small.requests(1) - 3);
    expect(flow.maxGapMs).toBeLessThan(5_000);
    expect(b.gw.child.exitCode).toBeNull();
    expect(await b.gw.stop('SIGTERM')).toBe(0);

    recordFigures('oversize: set aside when the broker refuses', {
      set_aside: asides.length,
      message_bytes: Number(asides[0].bytes),
      closes: logged(b.gw, (j) => typeof j.msg === 'string' && j.msg.includes('lost')).length,
      small_msgs_per_s: flow.perSecond.toFixed(1),
      small_max_gap_ms: flow.maxGapMs,
    });
  }, 60_000);

  it.skipIf(!hasSocat)('a value too large for any message: sent as null and bad with the reason, counted, logged once per tag; the rest flows', async () => {
    const limit = 2000;
    const links = closing(tempDir('floorgate-oversize-pty-'), (d) => fs.rmSync(d, { recursive: true, force: true }));
    const pair = closing(await startPtyPair(path.join(links, 'dev'), path.join(links, 'peer')), (p) => p.close());
    const instrument = closing(await startSerialSim({ path: pair.peer, request: 'NEVER-ASKED' }), (x) => x.close());
    const printer = `  - name: printer\n    driver: serial\n    port: ${pair.dev}\n    baud_rate: 115200\n    delimiter: "\\r\\n"\n`
      + `    pattern: '^TEXT,(?<text>.*)$'\n    tags:\n      - { name: text, type: string }\n`;
    const b = await start(limit, () => printer);
    await eventually(() => b.gw.stdout.some((l) => l.includes('"listening for lines"')), 15_000, 'the printer port to be open');

    const long = 'x'.repeat(3_000);
    const lines = ['short-1', long, 'short-2', long];
    // One line at a time, each awaited upstream: one reading per message.
    for (let i = 0; i < lines.length; i++) {
      await instrument.send(`TEXT,${lines[i]}\r\n`);
      await b.sub.waitFor((ms) => ms.filter((m) => m.topic === 'floorgate/test-gw/printer').length > i, 10_000);
    }
    const printed = bySeq(b.sub.messages).filter((m) => m.topic === 'floorgate/test-gw/printer').flatMap((m) => m.payload.readings);
    const dropped = { tag: 'text', value: null, quality: 'bad', error: expect.stringMatching(/^value dropped: the reading is \d{4} bytes, too large for mqtt.max_message_bytes$/) };
    expect(printed).toEqual([
      expect.objectContaining({ tag: 'text', value: 'short-1', quality: 'good' }),
      expect.objectContaining(dropped),
      expect.objectContaining({ tag: 'text', value: 'short-2', quality: 'good' }),
      expect.objectContaining(dropped),
    ]);
    expect(Math.max(...dataMessages(b.sub.messages).map(packetBytes))).toBeLessThanOrEqual(limit);
    expect(metric(await getText(b.httpPort, '/metrics'), 'floorgate_dropped_total', { reason: 'too_large' })).toBe(2);
    const warned = logged(b.gw, (j) => j.level === 40 && typeof j.msg === 'string' && j.msg.includes('does not fit in a message'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ device: 'printer', tag: 'text', max_message_bytes: limit });
    expect(audit(b.sub.messages)).toMatchObject({ firstSeq: 1, missing: 0, openGaps: 0 });
    expect(await b.gw.stop('SIGTERM')).toBe(0);
  }, 60_000);
});
