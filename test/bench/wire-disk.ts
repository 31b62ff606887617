/**
 * What a reading costs in bytes: upstream (whole MQTT PUBLISH packets, as the subscriber
 * receives them) and on disk (what `floorgate run` had written to storage, SQLite and WAL).
 * 1,000 uint16 tags of five digits in one device, polled every second, published per_device at
 * QoS 1 to mosquitto; the default config otherwise (sync normal, commit_interval 100 ms).
 *
 * - `bytes-per-reading`: PUBLISH bytes ÷ readings in both JSON layouts, readings and compact.
 * - `disk-per-reading`: storage write_bytes ÷ readings over the same window, against the PUBLISH
 *   bytes per reading, and GB a day at 1,000 and 10,000 tags/s (10 devices × 1,000 tags),
 *   in the default (readings) layout.
 *
 * Readings are counted by decoding every payload here (an independent reading of reference §3)
 * and checked against the gateway's floorgate_readings_total.
 */
import fs from 'node:fs';
import mqtt from 'mqtt';
import { cpuSeconds, GATEWAY_CORE, ioBytes } from './procfs.js';
import { spawnGateway, tempDir, writeConfig } from './gateway.js';
import { num, runIfMain, sleep, type Bench, type BenchOptions, type Figure } from './report.js';
import { startRig, type Rig } from './rig.js';

const TAGS = 1_000;
const WARMUP_MS = 5_000;
const TARGET_WIRE = 20;
const TARGET_DISK_RATIO = 1.5;

type JsonLayout = 'readings' | 'compact';

interface Window {
  readonly readings: number;
  /** Readings floorgate says it took in the window. */
  readonly taken: number;
  readonly publishBytes: number;
  readonly payloadBytes: number;
  readonly diskBytes: number;
  /** floorgate's CPU seconds. */
  readonly cpu: number;
  readonly seconds: number;
}

/** Readings in one per_device payload, in either layout. */
function readingsIn(payload: Buffer): number {
  const msg = JSON.parse(payload.toString()) as { readings?: unknown[]; groups?: { values: object }[] };
  let n = msg.readings?.length ?? 0;
  for (const g of msg.groups ?? []) n += Object.keys(g.values).length;
  return n;
}

/** A QoS 1 subscriber that counts whole PUBLISH packets, their payloads and their readings. */
async function counter(url: string, gatewayId: string) {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  const totals = { readings: 0, publishBytes: 0, payloadBytes: 0 };
  client.on('packetreceive', (packet) => {
    if (packet.cmd !== 'publish' || packet.topic.endsWith('/status')) return;
    // Fixed header: one byte, then the remaining length in 1–4 bytes of 7 bits.
    const rest = packet.length!;
    totals.publishBytes += 1 + (rest < 128 ? 1 : rest < 16_384 ? 2 : rest < 2_097_152 ? 3 : 4) + rest;
    totals.payloadBytes += (packet.payload as Buffer).length;
    totals.readings += readingsIn(packet.payload as Buffer);
  });
  await client.subscribeAsync(`floorgate/${gatewayId}/+`, { qos: 1 });
  return { totals: () => ({ ...totals }), close: () => client.endAsync(true) };
}

async function measure(rig: Rig, layout: JsonLayout, devices: number, windowMs: number): Promise<Window> {
  const dir = tempDir(`bytes-${layout}`);
  const gatewayId = `bench-bytes-${layout}-${devices}`;
  const file = writeConfig({
    devices, tagsPerDevice: TAGS, tagType: 'uint16', pollInterval: '1s', dir, gatewayId,
    mqttPort: rig.broker.port, modbusPort: rig.sim.port, mqtt: { json_layout: layout },
  });
  const gw = spawnGateway(file, { core: GATEWAY_CORE });
  const sub = await counter(rig.broker.url, gatewayId);
  try {
    await gw.started;
    await sleep(WARMUP_MS);
    const [m0, s0, d0, c0, t0] = [await gw.metrics(), sub.totals(), ioBytes(gw.pid).storage, cpuSeconds(gw.pid), performance.now()];
    await sleep(windowMs);
    const [m1, s1, d1, c1, t1] = [await gw.metrics(), sub.totals(), ioBytes(gw.pid).storage, cpuSeconds(gw.pid), performance.now()];
    return {
      readings: s1.readings - s0.readings,
      taken: m1.readings - m0.readings,
      publishBytes: s1.publishBytes - s0.publishBytes,
      payloadBytes: s1.payloadBytes - s0.payloadBytes,
      diskBytes: d1 - d0,
      cpu: c1 - c0,
      seconds: (t1 - t0) / 1000,
    };
  } finally {
    await sub.close();
    await gw.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const windowOf = (opts: BenchOptions) => (opts.full ? 60_000 : 15_000);

function seen(w: Window): string {
  return `${num(w.readings)} readings received (${num(w.taken)} taken) in ${num(w.seconds)} s`;
}

export const bytesPerReading: Bench = async (opts) => {
  const rig = await startRig();
  try {
    const readings = await measure(rig, 'readings', 1, windowOf(opts));
    const compact = await measure(rig, 'compact', 1, windowOf(opts));
    const per = (w: Window) => w.publishBytes / w.readings;
    const layout = `${num(TAGS)} uint16 tags (5 digits, names t00000…) in one device at 1 s, per_device, QoS 1`;
    return [{
      name: 'bytes per reading',
      value: per(compact),
      unit: 'B of PUBLISH per reading (json_layout compact)',
      baseline: { what: 'json_layout readings', value: per(readings), unit: 'B' },
      ratio: per(compact) / per(readings),
      target: `≤ ${TARGET_WIRE} B compact`,
      met: per(compact) <= TARGET_WIRE,
      note: `${layout}; whole packets at the subscriber; compact ${seen(compact)}, readings ${seen(readings)}`,
    }] satisfies Figure[];
  } finally {
    await rig.close();
  }
};

export const diskPerReading: Bench = async (opts) => {
  const rig = await startRig();
  try {
    const figures: Figure[] = [];
    for (const layout of ['readings', 'compact'] as const) {
      const one = await measure(rig, layout, 1, windowOf(opts));
      const ten = await measure(rig, layout, 10, windowOf(opts));
      const disk = (w: Window) => w.diskBytes / w.readings;
      const payload = (w: Window) => w.payloadBytes / w.readings;
      const gbPerDay = (w: Window, perSecond: number) => (disk(w) * perSecond * 86_400) / 1e9;
      const cpu = (w: Window) => num((w.cpu / w.readings) * 1e6);
      const ratio = disk(one) / payload(one);
      figures.push({
        name: `disk per reading (${layout})`,
        value: disk(one),
        unit: 'B written to storage per reading',
        baseline: { what: 'MQTT payload', value: payload(one), unit: 'B per reading' },
        ratio,
        target: `≤ ${TARGET_DISK_RATIO}× the payload`,
        met: ratio <= TARGET_DISK_RATIO,
        note: `/proc/PID/io write_bytes of floorgate run, ${num(TAGS)} uint16 tags at 1 s, json_layout ${layout}, sync normal; ` +
          `${num(gbPerDay(one, 1_000))} GB a day at 1,000 tags/s, ${num(gbPerDay(ten, 10_000))} GB a day at 10,000 tags/s ` +
          `(10 devices: ${num(disk(ten))} B per reading, ${num(disk(ten) / payload(ten))}× the payload); ` +
          `CPU s per 1M readings ${cpu(one)} and ${cpu(ten)}; ${seen(one)}`,
      });
    }
    return figures;
  } finally {
    await rig.close();
  }
};

runIfMain(import.meta.url, async (opts) => [...await bytesPerReading(opts), ...await diskPerReading(opts)]);
