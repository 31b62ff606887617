/**
 * The whole pipeline as an operator runs it: a simulated PLC process, a real mosquitto, and
 * `floorgate run` as a child process. Completeness is judged by the audit library, the same
 * code `floorgate audit` runs upstream.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Received, Subscriber } from '../helpers/subscriber.js';
import { AuditSession } from '../../src/audit/completeness.js';
import { readBufferStats } from '../../src/buffer/stats.js';
import { startMqttCutProxy } from '../helpers/mqtt-cut-proxy.js';
import { ACROSS_BROKER_RESTARTS, afterTest, setup } from './setup.js';

/** Audits everything the subscriber got: the data messages of gateway test-gw. */
function audit(sub: Subscriber) {
  const session = new AuditSession({ prefix: 'floorgate', gateways: ['test-gw'] });
  for (const m of sub.messages) session.observe(m.topic, m.raw, m.arrivedAt);
  return session.report(Date.now()).gateways['test-gw'];
}

const data = (messages: readonly Received[]) => messages.filter((m) => !m.topic.endsWith('/status'));
const lastSeq = (sub: Subscriber) => Math.max(0, ...data(sub.messages).map((m) => m.payload.seq as number));
/**
 * Messages taken from an outage on: above the last seq seen before it. The subscriber's session
 * may first be sent again what it had not acknowledged when the broker stopped.
 */
const takenSince = (seen: number) => (m: Received) => m.payload?.seq > seen;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('store and forward, end to end', () => {
  it('steady state: every seq arrives exactly once, in order, with the reference payload; SIGTERM exits 0', async () => {
    const s = await setup();
    const gw = s.gateway();
    await s.sub.waitFor((m) => data(m).length >= 20, 15_000);
    const code = await gw.stop('SIGTERM');
    expect(code).toBe(0);

    const msgs = data(s.sub.messages);
    const seqs = msgs.map((m) => m.payload.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i)); // contiguous, in order, no duplicate
    const first = msgs[0];
    expect(first.topic).toBe('floorgate/test-gw/press-1');
    expect(first.payload).toMatchObject({ gateway: 'test-gw', device: 'press-1' });
    expect(first.payload.historical).toBeUndefined();
    const tags = first.payload.readings.map((r: { tag: string }) => r.tag).sort();
    expect(tags).toEqual(['counter', 'running', 'temperature']);
    for (const r of first.payload.readings) {
      expect(r.quality).toBe('good');
      expect(Math.abs(Date.now() - r.ts)).toBeLessThan(60_000);
    }
    // The simulated counter only ever moves up.
    const counters = msgs.map((m) => m.payload.readings.find((r: { tag: string }) => r.tag === 'counter').value as number);
    expect(counters.every((c, i) => i === 0 || c >= counters[i - 1])).toBe(true);

    // Retained status: online on connect, offline after the intentional stop.
    const status = s.sub.messages.filter((m) => m.topic === 'floorgate/test-gw/status');
    expect(status[0].payload.online).toBe(true);
    expect(status.at(-1)!.payload.online).toBe(false);
    const report = audit(s.sub);
    expect(report.openGaps).toBe(0);
    expect(report.duplicates).toBe(0);
  }, 40_000);

  it('broker outage: nothing lost, backlog flagged historical, live data first (live_first)', async () => {
    const s = await setup({ buffer: { replay_rate: 15 } }, ACROSS_BROKER_RESTARTS);
    s.gateway();
    await s.sub.waitFor((m) => data(m).length >= 5, 15_000);
    await s.broker.stop();
    const taken = takenSince(lastSeq(s.sub));
    await wait(6_000);
    await s.broker.start();
    // The subscriber reconnects on its own; wait until live data flows again.
    const before = s.sub.messages.length;
    await s.sub.waitFor((m) => m.slice(before).some((x) => taken(x) && !x.payload.historical), 20_000);
    // Let the backlog drain, then nothing may be missing.
    await s.sub.waitFor(() => audit(s.sub).openGaps === 0 && audit(s.sub).historical > 30, 30_000);
    const afterReconnect = s.sub.messages.slice(before).filter(taken);
    const firstLive = afterReconnect.findIndex((m) => !m.payload.historical);
    const lastHistorical = afterReconnect.map((m) => Boolean(m.payload.historical)).lastIndexOf(true);
    // ~60 messages went to the backlog; at 15/s it drains over ~4 s while live data flows at once.
    expect(firstLive).toBeGreaterThanOrEqual(0);
    expect(firstLive).toBeLessThan(lastHistorical);
    const report = audit(s.sub);
    expect(report.openGaps).toBe(0);
    expect(report.historical).toBeGreaterThan(30);
    // Backlog messages carry their original read times, from during the outage.
    const oldest = Math.min(...data(s.sub.messages).filter((m) => m.payload.historical).map((m) => m.payload.readings[0].ts));
    expect(Date.now() - oldest).toBeGreaterThan(5_000);
  }, 60_000);

  it('in_order replay: the whole backlog arrives before live data', async () => {
    const s = await setup({ buffer: { replay: 'in_order' } }, ACROSS_BROKER_RESTARTS);
    s.gateway();
    await s.sub.waitFor((m) => data(m).length >= 5, 15_000);
    await s.broker.stop();
    const taken = takenSince(lastSeq(s.sub));
    await wait(3_000);
    await s.broker.start();
    const before = s.sub.messages.length;
    await s.sub.waitFor((m) => m.slice(before).filter((x) => taken(x) && !x.payload.historical).length >= 5, 20_000);
    const after = s.sub.messages.slice(before).filter(taken);
    const seqs = after.map((m) => m.payload.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const lastHistorical = after.map((m) => Boolean(m.payload.historical)).lastIndexOf(true);
    const firstLive = after.findIndex((m) => !m.payload.historical);
    expect(lastHistorical).toBeGreaterThan(0);
    expect(firstLive).toBe(lastHistorical + 1);
    expect(audit(s.sub).openGaps).toBe(0);
  }, 60_000);

  it('kill -9 three times during an outage and once while connected: no seq gap, seq only goes up across restarts, redeliveries identical', async () => {
    const s = await setup({}, ACROSS_BROKER_RESTARTS);
    // Date.now() at each daemon's start: a reading's ts says which daemon took it.
    const starts: number[] = [];
    const start = () => {
      starts.push(Date.now());
      return s.gateway();
    };
    const daemonOf = (m: Received) => {
      const taken = Math.min(...m.payload.readings.map((r: { ts: number }) => r.ts));
      let i = starts.length - 1;
      while (starts[i] > taken) i--;
      return i;
    };
    const fromLastDaemon = (messages: readonly Received[]) => data(messages).filter((m) => daemonOf(m) === starts.length - 1).length;
    const started = (_l: string, j: Record<string, unknown> | undefined) => j?.msg === 'floorgate started';

    let gw = start();
    await s.sub.waitFor((m) => data(m).length >= 5, 15_000);
    const seenBefore = lastSeq(s.sub);
    await s.broker.stop();
    for (let i = 0; i < 3; i++) {
      await wait(1_000 + Math.floor(Math.random() * 1_000));
      expect(await gw.stop('SIGKILL')).toBe('SIGKILL');
      gw = start();
      await gw.waitFor(started);
    }
    await wait(1_000);
    await s.broker.start();
    await s.sub.waitFor(() => {
      const r = audit(s.sub);
      return r.openGaps === 0 && (r.lastSeq ?? 0) > seenBefore + 20;
    }, 30_000);
    // Once more while connected: the newest messages went out live, so a daemon that handed
    // their seqs out again would show upstream. Waited for by its readings, not its seqs.
    expect(await gw.stop('SIGKILL')).toBe('SIGKILL');
    gw = start();
    await s.sub.waitFor((m) => fromLastDaemon(m) >= 10, 20_000);
    await gw.stop('SIGTERM');

    const report = audit(s.sub);
    expect(report.openGaps).toBe(0);
    expect(report.missing).toBe(0);
    const msgs = data(s.sub.messages);
    expect(report.firstSeq).toBe(msgs[0].payload.seq);

    // The broker's record, judged on its own: a seq that arrived twice carries the same bytes
    // (a redelivery may add only `"historical":true`, text that cannot occur inside a JSON string).
    const first = new Map<number, string>();
    const changed = new Set<number>();
    for (const m of msgs) {
      const bytes = m.raw.toString('utf8').replace(',"historical":true', '');
      const seq = m.payload.seq as number;
      if (!first.has(seq)) first.set(seq, bytes);
      else if (first.get(seq) !== bytes) changed.add(seq);
    }
    expect([...changed], 'seqs redelivered with other content').toEqual([]);

    // seq only goes up across restarts: every seq carrying readings of a later daemon is above
    // every seq carrying readings of an earlier one. Every daemon's readings arrived.
    const ranges = starts.map(() => ({ min: Infinity, max: -Infinity }));
    for (const m of msgs) {
      const range = ranges[daemonOf(m)];
      range.min = Math.min(range.min, m.payload.seq);
      range.max = Math.max(range.max, m.payload.seq);
    }
    expect(ranges.flatMap((r, i) => (r.min > r.max ? [i] : [])), 'daemons none of whose readings arrived').toEqual([]);
    ranges.slice(1).forEach((r, i) => expect(r.min, `daemon ${i + 1}'s first seq, after ${ranges[i].min}..${ranges[i].max}`).toBeGreaterThan(ranges[i].max));
  }, 90_000);

  for (const policy of ['drop_oldest', 'drop_newest'] as const) {
    it(`disk cap (${policy}): the buffer stays under max_bytes, every dropped reading counted`, async () => {
      const maxBytes = 256 * 1024;
      const s = await setup({}, ACROSS_BROKER_RESTARTS);
      // The wire between daemon and broker, read: which publishes the broker acknowledged.
      const wire = await startMqttCutProxy({ port: s.broker.port });
      afterTest(() => wire.close());
      s.rewriteConfig({ buffer: { max_bytes: '256KiB', when_full: policy }, pollInterval: '10ms', mqttPort: wire.port });
      let gw = s.gateway();
      await s.sub.waitFor((m) => data(m).length >= 3, 15_000);
      // The broker takes one more message and goes, its PUBACK never sent: delivered, yet to the
      // daemon as unsent as the rest (the same happens, less often, when a broker just stops).
      await wire.cutAfter('PUBLISH', 'upstream');
      await s.broker.stop();
      const acked = new Set(wire.flows.filter((f) => f.answer === 'PUBACK' && !f.publish.topic.endsWith('/status'))
        .map((f) => JSON.parse(f.publish.payload.toString('utf8')).seq as number));
      const inFlightAtStop = new Set(data(s.sub.messages).map((m) => m.payload.seq as number).filter((seq) => !acked.has(seq)));
      const db = path.join(s.dir, 'data', 'buffer.db');
      const size = () => ['', '-wal'].reduce((n, ext) => n + (fs.existsSync(db + ext) ? fs.statSync(db + ext).size : 0), 0);
      let peak = 0;
      // 3 readings every 10 ms: enough to overflow 256 KiB within the time below.
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && readBufferStats(db).dropped.full < 300) {
        peak = Math.max(peak, size());
        await wait(100);
      }
      expect(readBufferStats(db).dropped.full).toBeGreaterThanOrEqual(300);
      expect(await gw.stop('SIGTERM')).toBe(0);
      peak = Math.max(peak, size());
      expect(peak).toBeLessThanOrEqual(maxBytes);
      const atStop = readBufferStats(db);

      // Deliver the rest. Of the seqs up to the stop, the dropped ones are those that never
      // arrived and, under drop_oldest, those that arrived unacknowledged (the oldest in the
      // buffer); under drop_newest those are sent again. 3 readings per message.
      await s.broker.start();
      gw = s.gateway();
      const missingUpToStop = () => audit(s.sub).gaps.filter((g) => g.from <= atStop.last_seq)
        .reduce((n, g) => n + Math.min(g.to, atStop.last_seq) - g.from + 1, 0);
      const droppedYetArrived = policy === 'drop_oldest' ? inFlightAtStop.size : 0;
      await s.sub.waitFor(() => missingUpToStop() + droppedYetArrived === atStop.dropped.full / 3, 30_000);
      await wait(1_000);
      expect((missingUpToStop() + droppedYetArrived) * 3).toBe(atStop.dropped.full);
      await gw.stop('SIGTERM');
    }, 90_000);
  }

  it('a corrupt buffer file is moved aside and a new one started', async () => {
    const s = await setup();
    fs.mkdirSync(path.join(s.dir, 'data'), { recursive: true });
    fs.writeFileSync(path.join(s.dir, 'data', 'buffer.db'), 'this is not a database, it is a shopping list\n'.repeat(200));
    const gw = s.gateway();
    const line = await gw.waitFor((_l, j) => j?.level === 50 && /corrupt/i.test(String(j.msg)));
    expect(line).toMatch(/buffer\.db\.corrupt-/);
    await s.sub.waitFor((m) => data(m).length >= 3, 15_000);
    const aside = fs.readdirSync(path.join(s.dir, 'data')).filter((f) => f.startsWith('buffer.db.corrupt-'));
    expect(aside.length).toBe(1);
    expect(fs.readFileSync(path.join(s.dir, 'data', aside[0]), 'utf8')).toContain('shopping list');
    expect(await gw.stop()).toBe(0);
  }, 40_000);

  it('a broker that refuses the credentials: keeps buffering, says why, delivers after SIGHUP with the right password', async () => {
    const { dir, sub, rewriteConfig, gateway } = await setup({ mqtt: { username: 'gw', password: 'wrong-secret' } }, {
      broker: { users: { gw: 'right-secret' } },
      subscriber: { username: 'gw', password: 'right-secret' },
    });
    const gw = gateway();
    await gw.waitFor((_l, j) => /refused/i.test(String(j?.msg ?? '')) && /password|credentials|authori/i.test(String(j?.msg)));
    await wait(1_500);
    const db = path.join(dir, 'data', 'buffer.db');
    expect(readBufferStats(db).messages).toBeGreaterThan(5);
    expect(data(sub.messages).length).toBe(0);

    rewriteConfig({ mqtt: { username: 'gw', password: 'right-secret' } });
    gw.child.kill('SIGHUP');
    await gw.waitFor((_l, j) => j?.msg === 'configuration reloaded');
    await sub.waitFor(() => audit(sub).historical > 5 && audit(sub).openGaps === 0 && data(sub.messages).some((m) => !m.payload.historical), 20_000);
    expect(audit(sub).firstSeq).toBe(1);
    expect(await gw.stop()).toBe(0);
    // The secrets never reach the log.
    const everything = gw.stdout.join('\n') + gw.stderr.join('\n');
    expect(everything).not.toContain('wrong-secret');
    expect(everything).not.toContain('right-secret');
  }, 60_000);
});
