/**
 * The baseline gateway: the least code that does floorgate's job for the bench layout, with no
 * config, no planner, no scheduler, no metrics and no recovery. Per device: one socket, FC03
 * reads of 124 registers (62 float32 tags) one at a time every interval; each poll's readings
 * encoded as the same JSON text floorgate sends; all of it inserted into SQLite (WAL,
 * synchronous=NORMAL) in one transaction per commit interval; published from memory at QoS 1
 * with the same in-flight window, and deleted from SQLite once acknowledged.
 *
 * The work left is the work any gateway with floorgate's guarantees must do: decode, commit,
 * publish. floorgate's CPU per reading, throughput and latency are judged against it.
 *
 * With `buffered: false` it is the floor: the same reads and the same JSON published at QoS 1
 * straight from the poll, nothing stored (what a hand-made Modbus → MQTT flow does). What
 * floorgate costs above it is the price of its guarantees and its features.
 *
 * Run as a child process: `node raw-pipeline.js '<json options>'`. Prints a JSON line of
 * counters at the start and every `reportMs` on stdout.
 */
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { deviceName, tagName } from './gateway.js';
import { isEntry } from './report.js';

export interface RawPipelineOptions {
  readonly dir: string;
  readonly gatewayId: string;
  readonly mqttPort: number;
  readonly modbusPort: number;
  readonly devices: number;
  readonly tagsPerDevice: number;
  readonly intervalMs: number;
  readonly commitMs: number;
  readonly inflight: number;
  /** False: no SQLite, each poll published as it is read (the floor). Default true. */
  readonly buffered?: boolean;
  /** How often the counters are printed; default 250 ms. The idle bench prints rarely, as a line costs CPU. */
  readonly reportMs?: number;
}

export interface RawCounters {
  readonly readings: number;
  readonly published: number;
}

const TAGS_PER_READ = 62;

async function main(o: RawPipelineOptions): Promise<void> {
  const db = new Database(path.join(o.dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, ts INTEGER, readings INTEGER, device TEXT, body TEXT)');
  const insert = db.prepare('INSERT INTO messages (seq, ts, readings, device, body) VALUES (?, ?, ?, ?, ?)');
  const deleteUpTo = db.prepare('DELETE FROM messages WHERE seq <= ?');

  const client = mqtt.connect(`mqtt://127.0.0.1:${o.mqttPort}`, { clientId: o.gatewayId, protocolVersion: 4, clean: true });
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));

  interface Row { seq: number; device: string; body: string; readings: number }
  let pending: { device: string; body: string; readings: number; ts: number }[] = [];
  const committed: Row[] = [];
  let committedHead = 0;
  let seq = 0;
  let ackedUpTo = 0;
  let deletedUpTo = 0;
  let inflight = 0;
  let readings = 0;
  let published = 0;

  const pump = (): void => {
    while (inflight < o.inflight && committedHead < committed.length) {
      const row = committed[committedHead++];
      inflight++;
      const payload = '{"seq":' + row.seq + ',"gateway":"' + o.gatewayId + '","device":"' + row.device + '","readings":' + row.body + '}';
      client.publish(`floorgate/${o.gatewayId}/${row.device}`, payload, { qos: 1 }, () => {
        inflight--;
        // QoS 1 acknowledgements arrive in publish order.
        ackedUpTo = row.seq;
        published += row.readings;
        pump();
      });
    }
    if (committedHead > 4096 && committedHead * 2 > committed.length) {
      committed.splice(0, committedHead);
      committedHead = 0;
    }
  };

  const publishNow = (m: { device: string; body: string; readings: number }): void => {
    const payload = '{"seq":' + ++seq + ',"gateway":"' + o.gatewayId + '","device":"' + m.device + '","readings":' + m.body + '}';
    client.publish(`floorgate/${o.gatewayId}/${m.device}`, payload, { qos: 1 }, () => {
      published += m.readings;
    });
  };

  const commit = db.transaction(() => {
    if (ackedUpTo > deletedUpTo) {
      deleteUpTo.run(ackedUpTo);
      deletedUpTo = ackedUpTo;
    }
    for (const m of pending) {
      insert.run(++seq, m.ts, m.readings, m.device, m.body);
      committed.push({ seq, device: m.device, body: m.body, readings: m.readings });
    }
  });
  if (o.buffered !== false) {
    setInterval(() => {
      commit();
      pending = [];
      pump();
    }, o.commitMs);
  }

  const prefixes = Array.from({ length: o.tagsPerDevice }, (_, t) => '{"tag":"' + tagName(t) + '","value":');
  for (let d = 0; d < o.devices; d++) {
    const device = deviceName(d);
    const socket = net.connect(o.modbusPort, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let txid = 0;
    let rest: Buffer = Buffer.alloc(0);
    let waiting: ((frame: Buffer) => void) | undefined;
    socket.on('data', (chunk: Buffer) => {
      rest = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      while (rest.length >= 6 && rest.length >= 6 + rest.readUInt16BE(4)) {
        const frame = rest.subarray(0, 6 + rest.readUInt16BE(4));
        rest = rest.subarray(frame.length);
        waiting?.(frame);
      }
    });
    const read = (start: number, count: number): Promise<Buffer> => new Promise((resolve) => {
      waiting = resolve;
      const req = Buffer.allocUnsafe(12);
      req.writeUInt16BE(txid = (txid + 1) & 0xffff, 0);
      req.writeUInt16BE(0, 2);
      req.writeUInt16BE(6, 4);
      req[6] = 1;
      req[7] = 3;
      req.writeUInt16BE(start, 8);
      req.writeUInt16BE(count, 10);
      socket.write(req);
    });
    const poll = async (): Promise<void> => {
      let body = '[';
      let oldest = Infinity;
      for (let first = 0; first < o.tagsPerDevice; first += TAGS_PER_READ) {
        const n = Math.min(TAGS_PER_READ, o.tagsPerDevice - first);
        const frame = await read(first * 2, n * 2);
        const ts = Date.now();
        if (ts < oldest) oldest = ts;
        for (let i = 0; i < n; i++) {
          if (first + i > 0) body += ',';
          body += prefixes[first + i] + frame.readFloatBE(9 + i * 4) + ',"quality":"good","ts":' + ts + '}';
        }
      }
      const message = { device, body: body + ']', readings: o.tagsPerDevice, ts: oldest };
      if (o.buffered === false) publishNow(message);
      else pending.push(message);
      readings += o.tagsPerDevice;
    };
    let busy = false;
    let due = performance.now();
    const tick = (): void => {
      if (!busy) {
        busy = true;
        void poll().then(() => { busy = false; });
      }
      due += o.intervalMs;
      const now = performance.now();
      if (due < now) due += Math.ceil((now - due) / o.intervalMs) * o.intervalMs;
      setTimeout(tick, due - now);
    };
    tick();
  }

  const report = (): void => {
    const counters: RawCounters = { readings, published };
    process.stdout.write(JSON.stringify(counters) + '\n');
  };
  report();
  setInterval(report, o.reportMs ?? 250);
}

if (isEntry(import.meta.url)) {
  main(JSON.parse(process.argv[2]) as RawPipelineOptions).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
