/**
 * `floorgate run` while its broker link is down (issue 18):
 * - SIGHUP with a config that moves the PLC to another port and the gateway to a second broker:
 *   no seq is lost across the two brokers, the device reads from its new address (judged by
 *   what each simulated PLC served), and the backlog taken during the outage reaches the new
 *   broker.
 * - A short buffer.max_age during an outage: the seqs missing upstream are exactly the seqs the
 *   daemon's drop warnings name (a dropped message keeps its seq: every loss is a gap a consumer
 *   can match against the log, and no gap is left unexplained) — but for a message in flight
 *   when the link was cut, which the broker took and floorgate never heard back about.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { defaultSimMap, startModbusSim, type ServedRequest, type SimMap } from '../../drivers/modbus/sim.js';
import { parseRanges } from '../../src/buffer/drop-log.js';
import { readBufferStats } from '../../src/buffer/stats.js';
import { runCli, writeGatewayConfig, type CliProcess } from '../helpers/gateway.js';
import { recordFigures } from '../helpers/results.js';
import type { Received } from '../helpers/subscriber.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { auditFromSeq1 } from '../helpers/upstream.js';
import { dataMessages, eventually, sleep } from '../faults/rig.js';
import { afterTest, brokerWithSubscriber, sighup, workDir } from './setup.js';

/** Resolves with the arrival time of the daemon's answer to a SIGHUP sent now. */
async function reload(gw: CliProcess): Promise<number> {
  expect(await sighup(gw)).toMatch(/configuration reloaded/);
  return Date.now();
}

/**
 * The demo PLC with `counter` (holding 2–3, uint32) counting milliseconds from `start`: every
 * poll gets its own value, and two PLCs with starts far apart never serve the same one, so a
 * reading upstream names the PLC and the poll it came from.
 */
const stampedMap = (start: number): SimMap => ({
  tags: defaultSimMap.tags.map((t) => (t.name === 'counter' ? { ...t, counter: { step: 1, every: 1, start } } : t)),
});
const NEW_PLC_START = 1_000_000_000;

/** The counter values a PLC served: holding reads that covered registers 2 and 3. */
function servedCounters(served: readonly ServedRequest[]): Set<number> {
  const counters = new Set<number>();
  for (const r of served) {
    if (r.fc !== 3 || r.address > 2 || r.address + r.count < 4) continue;
    counters.add((r.values[2 - r.address] as number) * 65_536 + (r.values[3 - r.address] as number));
  }
  return counters;
}

const counterOf = (m: Received): number => m.payload.readings.find((r: { tag: string }) => r.tag === 'counter').value;

describe('SIGHUP in the middle of a broker outage', () => {
  it('moves the PLC to another port and the gateway to a second broker: no seq lost, new address read, backlog at the new broker', async () => {
    const dir = workDir();
    const first = await brokerWithSubscriber();
    const second = await brokerWithSubscriber();
    const servedOld: ServedRequest[] = [];
    const servedNew: ServedRequest[] = [];
    const oldPlc = await startModbusSim({ map: stampedMap(0), onServed: (r) => servedOld.push(r) });
    afterTest(() => oldPlc.close());
    const newPlc = await startModbusSim({ map: stampedMap(NEW_PLC_START), onServed: (r) => servedNew.push(r) });
    afterTest(() => newPlc.close());

    const config = writeGatewayConfig({ dir, mqttPort: first.broker.port, modbusPort: oldPlc.port });
    const gw = runCli(['run', '-c', config]);
    await first.sub.waitFor((m) => dataMessages(m).length >= 5, 15_000);

    // The outage: the first broker goes away; the daemon keeps polling into its buffer.
    await first.broker.stop();
    await gw.waitFor((_l, j) => /connection to .* lost/.test(String(j?.msg)), 5_000);
    await sleep(1_500);
    const backlogAtReload = readBufferStats(path.join(dir, 'data', 'buffer.db')).messages;

    // The PLC moved (the old address still answers: it must simply not be read any more) and
    // the plant switched brokers.
    writeGatewayConfig({ dir, mqttPort: second.broker.port, modbusPort: newPlc.port });
    const hupAt = Date.now();
    const reloadedAt = await reload(gw);

    await second.sub.waitFor((m) => dataMessages(m).filter((x) => counterOf(x) >= NEW_PLC_START && !x.payload.historical).length >= 10, 15_000);
    const committed = readBufferStats(path.join(dir, 'data', 'buffer.db')).last_seq;
    await eventually(() => {
      const r = auditFromSeq1(first.sub.messages, second.sub.messages);
      return r.openGaps === 0 && (r.lastSeq ?? 0) >= committed;
    }, 15_000, `every seq up to ${committed} at one broker or the other`);
    expect(await gw.stop('SIGTERM')).toBe(0);

    // No seq lost across the two brokers.
    const report = auditFromSeq1(first.sub.messages, second.sub.messages);
    expect(report).toMatchObject({ firstSeq: 1, openGaps: 0, missing: 0 });

    // The backlog went to the second broker: every seq the first one never got arrived there,
    // the ones taken before the reload flagged historical.
    const atFirst = new Set(dataMessages(first.sub.messages).map((m) => m.payload.seq as number));
    const atSecond = dataMessages(second.sub.messages);
    const lastAtFirst = Math.max(...atFirst);
    const secondSeqs = new Set(atSecond.map((m) => m.payload.seq as number));
    const notDelivered: number[] = [];
    for (let seq = lastAtFirst + 1; seq <= report.lastSeq!; seq++) if (!secondSeqs.has(seq)) notDelivered.push(seq);
    expect(notDelivered, 'seqs after the first broker\'s last that the second never got').toEqual([]);
    const backlog = atSecond.filter((m) => m.payload.historical === true);
    expect(backlogAtReload).toBeGreaterThan(5);
    expect(backlog.length).toBeGreaterThanOrEqual(backlogAtReload);

    // The device reads from its new address: the old PLC served nothing after the reload, the
    // new one nothing before the SIGHUP, and every reading upstream is a value its PLC served.
    expect(servedOld.filter((r) => r.time > reloadedAt)).toEqual([]);
    expect(servedNew.length).toBeGreaterThan(0);
    expect(servedNew.filter((r) => r.time < hupAt)).toEqual([]);
    const oldCounters = servedCounters(servedOld);
    const newCounters = servedCounters(servedNew);
    const all = [...dataMessages(first.sub.messages), ...atSecond];
    const unexplained = all.filter((m) => !(counterOf(m) >= NEW_PLC_START ? newCounters : oldCounters).has(counterOf(m)));
    expect(unexplained.map((m) => `seq ${m.payload.seq}: counter ${counterOf(m)}`)).toEqual([]);
    const fromNewPlc = all.filter((m) => counterOf(m) >= NEW_PLC_START);
    expect(fromNewPlc.length).toBeGreaterThanOrEqual(10);
    // Seq keeps counting across the move: the new PLC's readings come after every old one's.
    const firstNewSeq = Math.min(...fromNewPlc.map((m) => m.payload.seq as number));
    expect(Math.max(...all.filter((m) => counterOf(m) < NEW_PLC_START).map((m) => m.payload.seq as number))).toBeLessThan(firstNewSeq);

    recordFigures('SIGHUP during an outage (new PLC port, new broker)', {
      seqs: report.lastSeq!, at_first_broker: atFirst.size, at_second_broker: secondSeqs.size,
      backlog_at_reload: backlogAtReload, historical_at_second: backlog.length, missing: report.missing, duplicates: report.duplicates,
    });
  }, 60_000);

  it('a short buffer.max_age: the seqs missing upstream are exactly the seqs the drop warnings name', async () => {
    const dir = workDir();
    const { broker, sub } = await brokerWithSubscriber();
    const link = await startProxy({ port: broker.port });
    afterTest(() => link.close());
    const plc = await startModbusSim();
    afterTest(() => plc.close());
    const config = writeGatewayConfig({ dir, mqttPort: link.port, modbusPort: plc.port, buffer: { max_age: '2s' } });
    const db = path.join(dir, 'data', 'buffer.db');
    const gw = runCli(['run', '-c', config]);
    await sub.waitFor((m) => dataMessages(m).length >= 5, 15_000);

    // The link goes down; max_age is enforced every 5 s, so within about 7 s the oldest of the
    // backlog is dropped. One more second of backlog, then the link comes back.
    const cutAt = Date.now();
    link.reset();
    await eventually(() => readBufferStats(db).dropped.max_age > 0, 15_000, 'readings to be dropped for their age');
    await sleep(1_000);
    link.pass();
    const committed = readBufferStats(db).last_seq;
    await sub.waitFor((m) => dataMessages(m).some((x) => x.payload.seq >= committed + 10 && !x.payload.historical), 15_000);
    expect(await gw.stop('SIGTERM')).toBe(0);

    // Each seq the daemon used was delivered, is still in the buffer (in flight at the stop),
    // or was dropped — and every one missing is one the warnings name.
    const stats = readBufferStats(db);
    const stillBuffered = new Set(readonlySeqs(db));
    const arrived = new Set(dataMessages(sub.messages).map((m) => m.payload.seq as number));
    const missing: number[] = [];
    for (let seq = 1; seq <= stats.last_seq; seq++) if (!arrived.has(seq) && !stillBuffered.has(seq)) missing.push(seq);
    const dropLines = gw.stdout.flatMap((l) => {
      const j = JSON.parse(l) as Record<string, unknown>;
      return j.level === 40 && j.reason === 'max_age' && typeof j.seqs === 'string' ? [j] : [];
    });
    const named = dropLines.flatMap((j) => parseRanges(j.seqs as string));
    const namedSet = new Set(named);
    const missingNotNamed = missing.filter((seq) => !namedSet.has(seq));
    // The one exception is the uncertainty at-least-once is made of: a message the broker took
    // just before the cut, whose PUBACK the cut swallowed. floorgate cannot know it arrived; it
    // stays unacknowledged, ages out and is named. Only the newest messages that arrived before
    // the cut can be such; a named seq that arrived after the cut has no excuse.
    const arrivedAt = new Map(dataMessages(sub.messages).map((m) => [m.payload.seq as number, m.arrivedAt]));
    const namedButDelivered = named.filter((seq) => arrived.has(seq)).sort((a, b) => a - b);
    const inFlightAtCut = namedButDelivered.filter((seq) => arrivedAt.get(seq)! <= cutAt);
    const deliveredAfterCut = namedButDelivered.filter((seq) => arrivedAt.get(seq)! > cutAt);
    const arrivedBeforeCut = [...arrivedAt].filter(([, at]) => at <= cutAt).map(([seq]) => seq).sort((a, b) => a - b);
    recordFigures('max_age drops during an outage', {
      seqs_checked: stats.last_seq, seqs_missing: missing.length, seqs_named_dropped: named.length,
      missing_not_named: missingNotNamed.length, named_but_delivered_before_cut: inFlightAtCut.length,
      named_but_delivered_after_cut: deliveredAfterCut.length, readings_dropped: stats.dropped.max_age,
      duplicates: auditFromSeq1(sub.messages).duplicates,
    });
    expect(missing.length).toBeGreaterThan(0);
    expect(missingNotNamed).toEqual([]);
    expect(deliveredAfterCut).toEqual([]);
    expect(inFlightAtCut, 'named seqs that arrived before the cut: the newest only').toEqual(arrivedBeforeCut.slice(arrivedBeforeCut.length - inFlightAtCut.length));
    expect(namedSet.size).toBe(named.length);
    expect(named.filter((seq) => stillBuffered.has(seq))).toEqual([]);
    // Every message of this PLC holds 3 readings: the counter, the lines and the seqs agree.
    expect(stats.dropped.max_age).toBe(3 * named.length);
    expect(dropLines.reduce((sum, j) => sum + (j.readings as number), 0)).toBe(stats.dropped.max_age);
    expect(dropLines.reduce((sum, j) => sum + (j.messages as number), 0)).toBe(named.length);
  }, 60_000);
});

/** The seqs still in a buffer file (the daemon has exited). */
function readonlySeqs(file: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT seq FROM messages').pluck().all() as number[]);
  } finally {
    db.close();
  }
}
