/**
 * reference §4.2, §4.4 and §4.9 across restarts of the buffer and forwarder, judged by what a real
 * broker delivered to a subscriber (never by the buffer file):
 * - nothing committed is lost: every seq up to the last one assigned arrives;
 * - a seq always means the same message: delivered again (at-least-once), it carries the same
 *   payload apart from `"historical": true`;
 * - seq only goes up: readings taken after a restart get seqs above every one delivered before,
 *   in the same stream (epoch) — a clean restart never needs a new one.
 *
 * Three runs on one data dir. The first delivers ten messages (acknowledged, deleted), then five
 * more whose PUBACK the fault proxy cuts (delivered, not acknowledged: they must come again),
 * then commits five while the link is down (never sent). The second, after a restart, must
 * deliver the backlog. The third starts on an empty buffer and takes new readings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageStore } from '../../src/buffer/types.js';
import type { Forwarder } from '../../src/forward/forwarder.js';
import { startBroker } from '../helpers/broker.js';
import { subscribe, type Received, type Subscriber } from '../helpers/subscriber.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { testConfig } from '../forward/config.js';
import { appendBatches, captureLog, complete, isData, openStore, Rig, until } from '../forward/setup.js';

const rig = new Rig();
afterEach(async () => { await rig.close(); });

/** Waits for `done`, at most `ms`; the verdicts after it say what is wrong when it never is. */
async function settle(sub: Subscriber, done: (m: Received[]) => boolean, ms: number): Promise<void> {
  await sub.waitFor(done, ms).catch(() => undefined);
}

/** A message's identity and its content as a consumer compares redeliveries. */
function identity(m: Received): { key: string; content: string } {
  const content = { ...(m.payload as Record<string, unknown>) };
  delete content.historical;
  return { key: `${String(m.payload.epoch)}/${String(m.payload.seq)}`, content: JSON.stringify(content) };
}

describe('restarts (reference §4.2, §4.4, §4.9)', () => {
  it('nothing committed is lost, a redelivered seq carries the same payload, seq only goes up', async () => {
    const broker = rig.add(await startBroker(), (b) => b.stop());
    const proxy = rig.add(await startProxy({ port: broker.port }), (p) => p.close());
    const sub = rig.add(await subscribe(broker.url, { topic: 'fg/#' }), (s) => s.close());
    const { log } = captureLog();
    const config = testConfig({ url: `mqtt://127.0.0.1:${proxy.port}` });
    const dir = rig.tempDir();
    const run = (): { store: MessageStore; fwd: Forwarder } => {
      const store = rig.add(openStore(dir, config.buffer, log), (s) => s.close());
      const fwd = rig.forwarder(config, store, log);
      fwd.start();
      return { store, fwd };
    };
    const restart = async (r: { store: MessageStore; fwd: Forwarder }) => {
      await r.fwd.stop();
      r.store.close();
      return run();
    };

    let r = run();
    appendBatches(r.store, 10);
    await until(() => complete(sub.messages, 10) && r.store.stats().messages === 0, 10_000, 'seqs 1–10 delivered and acknowledged');
    const cut = proxy.cutMidFrame(1, 'downstream');
    appendBatches(r.store, 5);
    await cut;
    await sub.waitFor((m) => complete(m, 15), 5_000);
    proxy.reset();
    await until(() => !r.fwd.state().connected, 5_000, 'the forwarder to lose the link');
    appendBatches(r.store, 5);

    r = await restart(r);
    proxy.pass();
    await settle(sub, (m) => complete(m, 20), 5_000);

    // stop() waits for the offline status's PUBACK, and PUBACKs come in order: the buffer the
    // third run opens is empty.
    r = await restart(r);
    const fromThird = sub.messages.length;
    appendBatches(r.store, 5);
    await settle(sub, (m) => complete(m, 25), 5_000);

    const data = sub.messages.filter(isData);
    const contents = new Map<string, Set<string>>();
    for (const m of data) {
      const { key, content } = identity(m);
      contents.set(key, (contents.get(key) ?? new Set()).add(content));
    }
    const changed = [...contents].filter(([, seen]) => seen.size > 1).map(([key]) => key);
    expect(changed, 'seqs delivered with more than one payload').toEqual([]);
    // The cut PUBACKs: the test proves nothing about redelivery unless some seq came twice.
    expect(data.length).toBeGreaterThan(contents.size);

    const arrived = new Set(data.map((m) => m.payload.seq as number));
    const missing = Array.from({ length: 25 }, (_, i) => i + 1).filter((seq) => !arrived.has(seq));
    expect(missing, 'seqs never delivered').toEqual([]);

    const before = sub.messages.slice(0, fromThird).filter(isData);
    const after = sub.messages.slice(fromThird).filter(isData);
    expect(after.length).toBeGreaterThanOrEqual(5);
    expect(new Set(data.map((m) => m.payload.epoch)).size).toBe(1);
    expect(Math.min(...after.map((m) => m.payload.seq as number))).toBeGreaterThan(Math.max(...before.map((m) => m.payload.seq as number)));
  });
});
