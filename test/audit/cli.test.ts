/**
 * runAudit against a real broker (mosquitto from test/helpers/broker.ts): a synthetic floorgate
 * stream with a missing seq, a duplicate and a late historical fill.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type IConnackPacket, type MqttClient } from 'mqtt';
import { runAudit, auditCommand, type AuditOptions, type AuditResult } from '../../src/cli/audit.js';
import type { AuditReport } from '../../src/audit/completeness.js';
import { startBroker, freePort, type Broker } from '../helpers/broker.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { startEmbeddedBroker } from '../../src/broker/embedded.js';

let broker: Broker;
let publisher: MqttClient;
let runs = 0;
/** Audits started by the current test: a failed test must not leave one running. */
const running: Audit[] = [];

beforeAll(async () => {
  broker = await startBroker();
  publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 100 });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
});

afterAll(async () => {
  await publisher?.endAsync(true);
  await broker?.kill();
});

const publish = (topic: string, body: unknown, retain = false) =>
  publisher.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1, retain });

/** A per_device batch from gateway `gw`, readings taken `age` ms ago. */
const batch = (gw: string, seq: number, readings: number, extra: object = {}, age = 0) => ({
  seq, ...extra, gateway: gw, device: 'press-1',
  readings: Array.from({ length: readings }, (_, i) => ({ tag: `t${i}`, value: i, quality: 'good', ts: Date.now() - age })),
});

interface Audit {
  readonly code: Promise<number>;
  readonly out: string[];
  readonly err: string[];
  /** Resolves once the running report (or link state) satisfies pred; 10 s at most. */
  until(pred: (r: AuditReport, link: { connected: boolean; subscribed: boolean }) => boolean): Promise<void>;
  stop(): Promise<number>;
}

function audit(opts: Partial<AuditOptions> & { gateways: string[] }): Audit {
  const ac = new AbortController();
  const out: string[] = [];
  const err: string[] = [];
  let last: { r: AuditReport; link: { connected: boolean; subscribed: boolean } } | null = null;
  const code = runAudit({
    url: broker.url, prefix: 'fg', json: true, clientId: `audit-test-${process.pid}-${++runs}`, interval: 50,
    out: (s) => out.push(s), err: (s) => err.push(s), signal: ac.signal,
    onTick: (r, link) => { last = { r, link }; },
    ...opts,
  });
  const handle: Audit = {
    code, out, err,
    async until(pred) {
      const deadline = Date.now() + 10_000;
      while (!(last && pred(last.r, last.link))) {
        if (Date.now() > deadline) throw new Error(`audit: condition not met; last report ${JSON.stringify(last)}; stderr ${err.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop() {
      ac.abort();
      return code;
    },
  };
  running.push(handle);
  return handle;
}

const subscribed = (_r: AuditReport, link: { subscribed: boolean }) => link.subscribed;

describe('floorgate audit against a real broker', () => {
  it('reports a missing seq as an open gap, exactly, and exits 1', async () => {
    const a = audit({ gateways: ['gwA'] });
    await a.until(subscribed);
    await publish('fg/gwA/status', { online: true }, true);
    for (const seq of [1, 2, 3]) await publish('fg/gwA/press-1', batch('gwA', seq, 2));
    await publish('fg/gwA/press-1', batch('gwA', 5, 2));
    await publish('fg/gwA/press-1', batch('gwA', 5, 2));
    await publish('fg/gwA/press-1/t0', { seq: 6, value: 1, quality: 'good', ts: Date.now() });
    await publish('fg/gwA/press-1', 'not json');
    await publish('fg/gwB/press-1', batch('gwB', 1, 1)); // another gateway: not subscribed
    await a.until((r) => r.gateways.gwA.messages === 5 && r.gateways.gwA.duplicates === 1 && r.unparseable === 1);

    expect(await a.stop()).toBe(1);
    expect(a.out).toHaveLength(1);
    const result = JSON.parse(a.out[0]) as AuditResult;
    const t = expect.any(Number);
    const stream = {
      epoch: null,
      messages: 5, readings: 9, duplicates: 1, outOfOrder: 0, historical: 0, historicalShare: 0, clock: { flagged: 0, corrected: 0 },
      baseline: 1, firstSeq: 1, lastSeq: 6, beforeBaseline: 0, missing: 1, notObserved: 0, openGaps: 1,
      gaps: [{ from: 4, to: 4, since: t, missingFor: t, notObserved: false }],
      delay: {
        live: { count: 9, p50: t, p99: t, min: t, max: t },
        historical: { count: 0, p50: null, p99: null, min: null, max: null },
      },
      newestReadingTs: t, newestReadingAge: t, lastArrivalAt: t,
    };
    expect(result).toEqual({
      complete: false,
      gateways: { gwA: { ...stream, streams: [stream] } },
      unparseable: 1,
      lastUnparseable: { topic: 'fg/gwA/press-1', reason: 'payload is not JSON' },
      ignored: 1,
      disconnects: 0, sessionsLost: 0, outages: [], notObservedMs: 0,
      startedAt: t, endedAt: t, topics: ['fg/gwA/#'], clientId: `audit-test-${process.pid}-${runs}`, connected: true, error: null,
    });
    const gap = result.gateways.gwA.gaps[0];
    expect(gap.since).toBeGreaterThanOrEqual(result.startedAt);
    expect(gap.missingFor).toBe(result.endedAt - gap.since);
    expect(result.gateways.gwA.delay.live.max).toBeLessThan(5_000);
  });

  it('closes the gap when the backlog fills it late, prints live lines and a summary, and exits 0', async () => {
    const a = audit({ gateways: ['gwC'], json: false });
    await a.until(subscribed);
    for (const seq of [1, 2, 3, 5, 5, 6]) await publish('fg/gwC/press-1', batch('gwC', seq, 1));
    await a.until((r) => r.gateways.gwC.messages === 5 && r.gateways.gwC.openGaps === 1);
    // The backlog message that was missing, read an hour ago.
    await publish('fg/gwC/press-1', batch('gwC', 4, 1, { historical: true }, 3_600_000));
    await a.until((r) => r.gateways.gwC.messages === 6);

    expect(await a.stop()).toBe(0);
    expect(a.out.some((l) => /^gwC {2}msgs 5 .* {2}gaps 1 \(1 missing, oldest \d+ms\) {2}dup 1 {2}ooo 0 {2}hist 0\.0%/.test(l))).toBe(true);
    const summary = a.out[a.out.length - 1].split('\n');
    expect(summary[0]).toMatch(/^floorgate audit: 1 gateway over [\d.]+m?s, COMPLETE: no gap open$/);
    expect(summary.slice(1, 7)).toEqual([
      'gateway gwC',
      '  messages      6 (6 readings), seq 1..6, audited from 1',
      '  duplicates    1',
      '  out of order  1',
      '  historical    1 (16.7%)',
      '  gaps open     0',
    ]);
    expect(summary[8]).toMatch(/^ {2}delay backlog p50 1\.0h, p99 1\.0h, max 1\.0h \(1 reading\)$/);
    expect(a.err).toEqual(['floorgate audit: subscribed to fg/gwC/# at QoS 1']);
  });

  it('misses nothing published while its own connection was down (persistent session)', async () => {
    const proxy = await startProxy({ port: broker.port });
    try {
      const a = audit({ gateways: ['gwD'], url: `mqtt://127.0.0.1:${proxy.port}` });
      await a.until(subscribed);
      for (const seq of [1, 2, 3]) await publish('fg/gwD/press-1', batch('gwD', seq, 1));
      await a.until((r) => r.gateways.gwD.messages === 3);
      proxy.reset();
      await a.until((_r, link) => !link.connected);
      for (const seq of [4, 5, 6]) await publish('fg/gwD/press-1', batch('gwD', seq, 1));
      proxy.pass();
      await publish('fg/gwD/press-1', batch('gwD', 7, 1));
      await a.until((r) => r.gateways.gwD.messages === 7);
      expect(await a.stop()).toBe(0);
      const result = JSON.parse(a.out[0]) as AuditResult;
      expect(result.gateways.gwD).toMatchObject({ messages: 7, firstSeq: 1, lastSeq: 7, openGaps: 0, missing: 0 });
      // A message whose PUBACK the reset swallowed is redelivered on resumption: legal, counted.
      expect(result.gateways.gwD.duplicates).toBeLessThanOrEqual(3);
      expect(proxy.accepted).toBeGreaterThanOrEqual(2);
      expect(result).toMatchObject({ disconnects: 1, sessionsLost: 0, notObservedMs: 0, outages: [{ sessionResumed: true }] });
      // Besides what mqtt.js says about the reset itself.
      expect(a.err.filter((l) => !l.endsWith('(retrying)')).slice(1)).toEqual([
        'floorgate audit: connection to the broker lost, reconnecting',
        'floorgate audit: reconnected, the broker kept our session: nothing published meanwhile is missed',
      ]);
    } finally {
      await proxy.close();
    }
  });

  it('starts clean even when a crashed earlier run left a session with queued messages', async () => {
    const clientId = `audit-test-${process.pid}-stale`;
    // What a killed audit leaves: a persistent session subscribed to the stream, no DISCONNECT.
    const crashed = await mqtt.connectAsync(broker.url, { clientId, protocolVersion: 5, clean: true, properties: { sessionExpiryInterval: 3_600 }, reconnectPeriod: 0 });
    await crashed.subscribeAsync('fg/gwE/#', { qos: 1 });
    await crashed.endAsync(true);
    for (const seq of [10, 11]) await publish('fg/gwE/press-1', batch('gwE', seq, 1));

    const a = audit({ gateways: ['gwE'], clientId });
    await a.until(subscribed);
    await publish('fg/gwE/press-1', batch('gwE', 12, 1));
    await a.until((r) => r.gateways.gwE.messages >= 1);
    expect(await a.stop()).toBe(0);
    // The stale queue would have been delivered before 12 (same publisher, same topic, in order).
    expect((JSON.parse(a.out[0]) as AuditResult).gateways.gwE).toMatchObject({ messages: 1, firstSeq: 12, lastSeq: 12 });
  });

  it('ends its session on the broker when it stops, so nothing queues for it afterwards', async () => {
    const clientId = `audit-test-${process.pid}-ended`;
    const a = audit({ gateways: ['gwH'], clientId });
    await a.until(subscribed);
    expect(await a.stop()).toBe(0);
    const probe = mqtt.connect(broker.url, { clientId, protocolVersion: 5, clean: false, reconnectPeriod: 0 });
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      probe.once('connect', resolve);
      probe.once('error', reject);
    });
    await probe.endAsync(true);
    expect(connack.sessionPresent).toBe(false);
  });

  it('ends on SIGINT with the final summary, and removes its signal handlers', async () => {
    const before = process.listenerCount('SIGINT');
    const a = audit({ gateways: ['gwF'], json: false, signal: undefined });
    await a.until(subscribed);
    process.emit('SIGINT');
    expect(await a.code).toBe(0);
    expect(a.out[a.out.length - 1]).toMatch(/^floorgate audit: 1 gateway over .*, COMPLETE: no gap open\ngateway gwF\n {2}no data message received\nunparseable 0, ignored 0$/);
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('ends after --duration, exits 1 when it never reached the broker', async () => {
    const port = await freePort();
    const a = audit({ gateways: [], url: `mqtt://127.0.0.1:${port}`, duration: 300 });
    expect(await a.code).toBe(1);
    expect(JSON.parse(a.out[0])).toMatchObject({ complete: true, connected: false, error: 'never connected to the broker', gateways: {} });
    expect(a.err[a.err.length - 1]).toBe('floorgate audit: never connected to the broker');
  });

  it('fails at once, exit 1, when the broker refuses the connection', async () => {
    const guarded = await startBroker({ users: { plant: 'secret' } });
    try {
      const a = audit({ gateways: [], url: guarded.url });
      expect(await a.code).toBe(1);
      const result = JSON.parse(a.out[0]) as AuditResult;
      expect(result.connected).toBe(false);
      expect(result.error).toMatch(/^Connection refused: (Not authorized|Bad User Name or Password)$/);
      expect(a.err).toEqual([`floorgate audit: ${result.error}`]);
    } finally {
      await guarded.kill();
    }
  });

  it('falls back to MQTT 3.1.1 for a broker without MQTT 5, and unsubscribes when it stops', async () => {
    const aedes = await startEmbeddedBroker();
    const pub = await mqtt.connectAsync(aedes.url, { protocolVersion: 4, reconnectPeriod: 0 });
    const send = (seq: number) => pub.publishAsync('fg/gwJ/press-1', JSON.stringify(batch('gwJ', seq, 1)), { qos: 1 });
    const clientId = `audit-test-${process.pid}-v4`;
    try {
      const first = audit({ gateways: ['gwJ'], url: aedes.url, clientId });
      await first.until(subscribed);
      for (const seq of [1, 2, 4]) await send(seq);
      await first.until((r) => r.gateways.gwJ.messages === 3);
      expect(await first.stop()).toBe(1);
      expect(first.err).toEqual(['floorgate audit: subscribed to fg/gwJ/# at QoS 1 (MQTT 3.1.1)']);
      expect((JSON.parse(first.out[0]) as AuditResult).gateways.gwJ).toMatchObject({ messages: 3, gaps: [{ from: 3, to: 3 }] });

      // The 3.1.1 session outlives the run but holds no subscription: nothing queued for it.
      await send(5);
      const second = audit({ gateways: ['gwJ'], url: aedes.url, clientId });
      await second.until(subscribed);
      await send(6);
      await second.until((r) => r.gateways.gwJ.messages >= 1);
      expect(await second.stop()).toBe(0);
      expect((JSON.parse(second.out[0]) as AuditResult).gateways.gwJ).toMatchObject({ messages: 1, firstSeq: 6 });
    } finally {
      await pub.endAsync(true);
      await aedes.close();
    }
  });

  it('exits 64 on usage errors without connecting', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const base = { url: broker.url, prefix: 'fg', gateways: [] as string[], json: true, out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
    expect(await runAudit({ ...base, url: 'not a url' })).toBe(64);
    expect(await runAudit({ ...base, url: 'http://127.0.0.1:1' })).toBe(64);
    expect(await runAudit({ ...base, prefix: 'fg/#' })).toBe(64);
    expect(await runAudit({ ...base, gateways: ['a/b'] })).toBe(64);
    expect(await runAudit({ ...base, duration: 0 })).toBe(64);
    expect(await runAudit({ ...base, since: -1 })).toBe(64);
    expect(out).toEqual([]);
    expect(err).toEqual([
      'floorgate audit: --url: "not a url" is not a URL (e.g. mqtt://broker:1883)',
      'floorgate audit: --url: scheme must be mqtt, mqtts, ws or wss, not "http"',
      'floorgate audit: --prefix: "fg/#" must be a non-empty topic prefix without wildcards',
      'floorgate audit: --gateway: "a/b" is not a gateway id ([A-Za-z0-9_-]+)',
      'floorgate audit: --duration must be positive',
      'floorgate audit: --since must be a non-negative integer seq',
    ]);
  });

  it('auditCommand turns parsed arguments into a run', async () => {
    const out: string[] = [];
    expect(await auditCommand({ prefix: 'fg' }, (s) => out.push(s))).toBe(64);
    expect(await auditCommand({ url: broker.url, duration: 'soon' }, (s) => out.push(s))).toBe(64);
    expect(out).toEqual([]);
    const code = await auditCommand(
      { url: broker.url, prefix: 'fg', gateway: ['gwG'], duration: '300ms', json: true, 'client-id': `audit-test-${process.pid}-cmd`, since: '5' },
      (s) => out.push(s),
    );
    expect(code).toBe(0);
    expect(JSON.parse(out[0])).toMatchObject({ complete: true, topics: ['fg/gwG/#'], gateways: { gwG: { messages: 0, baseline: 5 } } });
  });
});
