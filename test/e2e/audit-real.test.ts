/**
 * `floorgate audit` (the CLI, as a consumer runs it) against a real gateway.
 *
 * - The daemon publishes to broker A; a test-only bridge republishes A → B, dropping one
 *   message and sending another twice; the audit subscribes to B. It must report exactly that
 *   gap and that duplicate, exit 1 while the gap is open, and 0 once the bridge delivers the
 *   missing message late.
 * - The broker restarts while the gateway publishes, and the audit comes back only after the
 *   gateway has sent its backlog and live data again: with a broker that persists sessions the
 *   audit gets all of it from its kept session and ends complete; with one that forgets them,
 *   it reports what went by as "not observed", never as missing. The record it is judged
 *   against is the gateway's own buffer: the highest seq it ever assigned.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/stats.js';
import { startBroker, type Broker } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, writeGatewayConfig, type CliProcess } from '../helpers/gateway.js';
import { startProxy } from '../helpers/tcp-proxy.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await stopAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface StreamJson {
  epoch: string | null;
  messages: number;
  historical: number;
  firstSeq: number;
  lastSeq: number;
  openGaps: number;
  missing: number;
  notObserved: number;
  duplicates: number;
  gaps: { from: number; to: number; notObserved: boolean }[];
}

interface AuditJson {
  complete: boolean;
  gateways: Record<string, StreamJson & { streams: StreamJson[] }>;
  disconnects: number;
  sessionsLost: number;
  outages: { from: number; to: number | null; sessionResumed: boolean | null }[];
  notObservedMs: number;
}

async function audit(url: string, duration: string): Promise<{ code: number | string; report: AuditJson }> {
  const p = runCli(['audit', '--url', url, '--gateway', 'test-gw', '--duration', duration, '--json', '--client-id', `audit-e2e-${process.pid}-${Date.now()}`]);
  const code = await p.exited;
  return { code, report: JSON.parse(p.stdout.join('\n')) as AuditJson };
}

describe('floorgate audit against a real gateway', () => {
  it('reports exactly the dropped message and the duplicate, and the recovery when it arrives late', async () => {
    const dir = tempDir();
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const [a, b] = await Promise.all([startBroker(), startBroker()]);
    cleanups.push(() => a.kill(), () => b.kill());
    const plc = runCli(['sim', 'modbus', '--port', '0']);
    const plcPort = Number(/:(\d+) /.exec(await plc.waitFor((l) => l.includes('listening on')))![1]);

    // The bridge: seq 5 is held back, seq 7 is sent twice.
    const DROP = 5;
    const DUP = 7;
    let held: { topic: string; payload: Buffer } | undefined;
    const from = await mqtt.connectAsync(a.url, { protocolVersion: 4 });
    const to = await mqtt.connectAsync(b.url, { protocolVersion: 4 });
    cleanups.push(() => from.endAsync(true), () => to.endAsync(true));
    await from.subscribeAsync('floorgate/#', { qos: 1 });
    let bridged = 0;
    from.on('message', (topic, payload) => {
      const seq = (JSON.parse(payload.toString()) as { seq?: number }).seq;
      if (seq === DROP) { held = { topic, payload }; return; }
      void to.publishAsync(topic, payload, { qos: 1 });
      if (seq === DUP) void to.publishAsync(topic, payload, { qos: 1 });
      if (seq !== undefined) bridged = Math.max(bridged, seq);
    });

    // Two audits from the start (they subscribe before the gateway publishes anything): the
    // first ends while seq 5 is still held back; the bridge then delivers it late, as a backlog
    // replay would, and the second, still running, sees the gap close.
    const first = audit(b.url, '5s');
    const second = audit(b.url, '9s');
    await new Promise((r) => setTimeout(r, 800));
    runCli(['run', '-c', writeGatewayConfig({ dir, mqttPort: a.port, modbusPort: plcPort })]);

    const one = await first;
    expect(bridged).toBeGreaterThan(DUP);
    expect(one.code).toBe(1);
    const g = one.report.gateways['test-gw'];
    expect(g.epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(g.streams.map((x) => x.epoch)).toEqual([g.epoch]);
    expect(one.report.complete).toBe(false);
    expect(g.gaps.map(({ from: f, to: t }) => [f, t])).toEqual([[DROP, DROP]]);
    expect(g.missing).toBe(1);
    expect(g.duplicates).toBe(1);

    expect(held).toBeDefined();
    await to.publishAsync(held!.topic, held!.payload, { qos: 1 });
    const two = await second;
    expect(two.code).toBe(0);
    expect(two.report.complete).toBe(true);
    expect(two.report.gateways['test-gw']).toMatchObject({ openGaps: 0, missing: 0, duplicates: 1 });
  }, 40_000);

  /** Messages the buffer file still holds with a seq up to `seq`. */
  function heldUpTo(file: string, seq: number): number {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT COUNT(*) FROM messages WHERE seq <= ?').pluck().get(seq) as number;
    } finally {
      db.close();
    }
  }

  /** A gateway publishing throughout a broker restart, and audits held away from the broker until it has sent again. */
  async function restartScenario(broker: Broker, audits: string[][]) {
    const dir = tempDir();
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const plc = runCli(['sim', 'modbus', '--port', '0']);
    const plcPort = Number(/:(\d+) /.exec(await plc.waitFor((l) => l.includes('listening on')))![1]);
    // The audits reach the broker through a proxy the test can hold shut.
    const proxy = await startProxy({ port: broker.port });
    cleanups.push(() => proxy.close());
    const url = `mqtt://127.0.0.1:${proxy.port}`;
    const running: CliProcess[] = audits.map((extra, i) =>
      runCli(['audit', '--url', url, '--gateway', 'test-gw', '--client-id', `audit-restart-${process.pid}-${Date.now()}-${i}`, ...extra]));
    await until(() => running.every((a) => a.stderr.some((l) => l.includes('subscribed to'))), 10_000, 'the audits\' subscriptions');

    const bufferFile = path.join(dir, 'data', 'buffer.db');
    const gw = runCli(['run', '-c', writeGatewayConfig({ dir, mqttPort: broker.port, modbusPort: plcPort })]);
    await until(() => fs.existsSync(bufferFile) && readBufferStats(bufferFile).last_seq >= 10, 10_000, 'the first messages');

    await broker.stop();
    proxy.reset();
    const seqAtStop = readBufferStats(bufferFile).last_seq;
    // The gateway keeps polling into its buffer meanwhile.
    await until(() => readBufferStats(bufferFile).last_seq >= seqAtStop + 5, 10_000, 'readings buffered during the outage');
    await broker.start();
    // The gateway reconnects and sends its backlog, then live data, while the audits are still away.
    const seqAtRestart = readBufferStats(bufferFile).last_seq;
    // Sent means deleted from the file; the message a commit has just added stays until the next
    // commit deletes it, so with polls every 100 ms the file is never empty while running.
    await until(() => heldUpTo(bufferFile, seqAtRestart) === 0 && readBufferStats(bufferFile).last_seq >= seqAtRestart + 5,
      15_000, 'the backlog and live data published after the restart');
    proxy.pass();
    await until(() => running.every((a) => a.stderr.some((l) => l.includes('reconnected'))), 10_000, 'the audits to reconnect');
    // Live data reaches the audits again before the gateway stops.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await gw.stop('SIGTERM')).toBe(0);
    const stats = readBufferStats(bufferFile);
    expect(stats.messages).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const results = await Promise.all(running.map(async (a) => ({ code: await a.stop('SIGINT'), out: a.stdout.join('\n'), err: a.stderr })));
    return { lastSeq: stats.last_seq, results };
  }

  it('keeps its session through a broker restart (persistence on): nothing published meanwhile is lost to it', async () => {
    const broker = await startBroker({ engine: 'mosquitto', persistent: true });
    cleanups.push(() => broker.kill());
    const { lastSeq, results: [audit] } = await restartScenario(broker, [['--json']]);

    const report = JSON.parse(audit.out) as AuditJson;
    expect(audit.code).toBe(0);
    expect(report.complete).toBe(true);
    const g = report.gateways['test-gw'];
    expect(g).toMatchObject({ firstSeq: 1, lastSeq, messages: lastSeq, openGaps: 0, missing: 0, notObserved: 0 });
    expect(g.historical).toBeGreaterThan(0);
    expect(report.disconnects).toBeGreaterThanOrEqual(1);
    expect(report).toMatchObject({ sessionsLost: 0, notObservedMs: 0 });
    expect(report.outages.every((o) => o.sessionResumed === true)).toBe(true);
    expect(audit.err.filter((l) => l.includes('lost our session'))).toEqual([]);
  }, 60_000);

  it('reports what went by while its session was lost as not observed, never as missing', async () => {
    // mosquitto without persistence: a restart forgets every session.
    const broker = await startBroker({ engine: 'mosquitto' });
    cleanups.push(() => broker.kill());
    const { lastSeq, results: [json, text] } = await restartScenario(broker, [['--json'], []]);

    expect(json.code).toBe(1);
    const report = JSON.parse(json.out) as AuditJson;
    expect(report.complete).toBe(false);
    expect(report).toMatchObject({ disconnects: 1, sessionsLost: 1 });
    expect(report.notObservedMs).toBeGreaterThan(0);
    const g = report.gateways['test-gw'];
    expect(g).toMatchObject({ firstSeq: 1, lastSeq, missing: 0 });
    expect(g.notObserved).toBeGreaterThan(0);
    // Every seq the gateway assigned either arrived or is reported as not observed.
    expect(g.messages + g.notObserved).toBe(lastSeq);
    expect(g.gaps.every((x) => x.notObserved)).toBe(true);
    expect(json.err.some((l) => l.includes('lost our session'))).toBe(true);

    expect(text.code).toBe(1);
    const summary = text.out.slice(text.out.indexOf('floorgate audit:'));
    expect(summary).toMatch(/^floorgate audit: 1 gateway over .*, NOT PROVEN: \d+ gaps? open, \d+ seqs? not observed while the audit was disconnected, none missing\n/);
    expect(summary).toMatch(/\naudit link {4}down 1 time, session lost 1 time; not observed /);
    expect(summary).toMatch(/\n {4}seq \d+(\.\.\d+)? not observed \(open for /);
    expect(summary).not.toMatch(/missing for/);
  }, 60_000);
});

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
