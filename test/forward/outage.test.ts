/**
 * The broker goes away for ~3 s while readings keep being committed, then comes back: nothing
 * is lost, the backlog is flagged historical, and the replay mode decides what goes first.
 *
 * The forwarder reaches the broker through a fault proxy held in reset mode until the test's
 * subscriber is back (a broker without persistence forgets subscriptions on restart): that
 * keeps the test deterministic; the forwarder still sees the broker stop and refuse.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../helpers/broker.js';
import { subscribe, type Received } from '../helpers/subscriber.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { testConfig } from './config.js';
import { appendBatches, captureLog, complete, isData, openStore, Rig, seqsOf, until } from './setup.js';

const rig = new Rig();
afterEach(async () => { await rig.close(); });

async function outage(replay: 'live_first' | 'in_order') {
  const broker = rig.add(await startBroker(), (b) => b.stop());
  const proxy = rig.add(await startProxy({ port: broker.port }), (p) => p.close());
  const capture = captureLog();
  const config = testConfig({
    url: `mqtt://127.0.0.1:${proxy.port}`,
    mqtt: { reconnect_min: 100, reconnect_max: 400 },
    buffer: { replay, replay_rate: 20 },
  });
  const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
  const sub = rig.add(await subscribe(broker.url, { topic: 'fg/#' }), (s) => s.close());
  const fwd = rig.forwarder(config, store, capture.log);
  fwd.start();

  appendBatches(store, 10);
  await sub.waitFor((m) => complete(m, 10), 5_000);

  await broker.stop();
  proxy.reset();
  await until(() => !fwd.state().connected, 5_000, 'the forwarder to notice');
  for (let i = 0; i < 6; i++) {
    appendBatches(store, 5);
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(store.stats().messages).toBe(30);
  expect(fwd.state().backlogRemaining).toBe(30);
  await broker.start();
  await sub.subscribed();
  proxy.pass();
  await until(() => fwd.state().connected, 5_000, 'reconnect');
  return { sub, store, fwd, capture };
}

const historical = (m: Received) => m.payload.historical === true;

describe('broker outage', () => {
  it('live_first: no gap, backlog historical, a live message overtakes the slow backlog', async () => {
    const { sub, store, fwd, capture } = await outage('live_first');
    // 30 backlog messages at 20/s take 1.5 s; a live one must not wait for them.
    await sub.waitFor((m) => m.filter(historical).length >= 3, 5_000);
    appendBatches(store, 1);
    const ms = await sub.waitFor((m) => complete(m, 41), 10_000);
    const after = ms.filter(isData).filter((m) => m.payload.seq > 10);
    const live = after.findIndex((m) => m.payload.seq === 41);
    expect(after[live].payload.historical).toBeUndefined();
    const lastBacklog = after.map((m) => m.payload.seq <= 40).lastIndexOf(true);
    expect(live).toBeLessThan(lastBacklog);
    // The backlog itself goes out in seq order, every one flagged.
    const backlog = after.filter((m) => m.payload.seq <= 40);
    expect(backlog.every(historical)).toBe(true);
    expect(seqsOf(backlog)).toEqual([...new Set(seqsOf(backlog))].sort((a, b) => a - b));
    await until(() => fwd.state().backlogRemaining === 0, 5_000, 'backlog drained');
    // replay_rate: 20/s spreads the 30 backlog messages over about 1.5 s.
    expect(backlog[backlog.length - 1].arrivedAt - backlog[0].arrivedAt).toBeGreaterThanOrEqual(1_200);

    const lines = capture.lines();
    expect(lines.filter((l) => l.msg.startsWith('connection to') && l.msg.includes('lost'))).toHaveLength(1);
    expect(lines.filter((l) => l.msg.startsWith('connected to'))).toHaveLength(2);
  });

  it('in_order: the whole backlog first, then live, strictly in seq order', async () => {
    const { sub, store } = await outage('in_order');
    await sub.waitFor((m) => m.filter(historical).length >= 1, 5_000);
    appendBatches(store, 3);
    const ms = await sub.waitFor((m) => complete(m, 43), 10_000);
    const after = ms.filter(isData).filter((m) => m.payload.seq > 10);
    expect(seqsOf(after)).toEqual(Array.from({ length: 33 }, (_, i) => i + 11));
    expect(after.slice(0, 30).every(historical)).toBe(true);
    expect(after.slice(30).some(historical)).toBe(false);
  });
});
