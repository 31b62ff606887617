/** Link and broker faults: half-open TCP, refused credentials, the will, an intentional stop. */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../helpers/broker.js';
import { subscribe, type Received } from '../helpers/subscriber.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { testConfig } from './config.js';
import { appendBatches, captureLog, complete, openStore, Rig, until } from './setup.js';

const rig = new Rig();
afterEach(async () => { await rig.close(); });

const status = (ms: readonly Received[]) => ms.filter((m) => m.topic === 'fg/gw-test/status');

describe('faults', () => {
  it('detects a half-open link by keep-alive and resends what vanished into it', async () => {
    const broker = rig.add(await startBroker(), (b) => b.stop());
    const proxy = rig.add(await startProxy({ port: broker.port }), (p) => p.close());
    const capture = captureLog();
    const config = testConfig({ url: `mqtt://127.0.0.1:${proxy.port}`, mqtt: { keepalive: 2_000, reconnect_min: 100, reconnect_max: 500 } });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
    const sub = rig.add(await subscribe(broker.url, { topic: 'fg/#' }), (s) => s.close());
    const fwd = rig.forwarder(config, store, capture.log);
    fwd.start();
    appendBatches(store, 20);
    await sub.waitFor((m) => complete(m, 20), 5_000);
    // Every PUBACK back and its delete committed, so none of the first 20 can vanish with the link.
    await until(() => store.stats().messages === 0, 5_000, 'the first batch acknowledged');

    proxy.blackhole();
    // Published into the void: sent, never acknowledged, so never removed from the store.
    appendBatches(store, 20);
    const t0 = Date.now();
    await until(() => !fwd.state().connected, 6_000, 'keep-alive to notice the dead link');
    const detectedMs = Date.now() - t0;
    expect(detectedMs).toBeLessThan(4_500);
    expect(store.stats().messages).toBe(20);
    proxy.pass();

    const ms = await sub.waitFor((m) => complete(m, 40), 10_000);
    expect(ms.filter((m) => m.payload.seq > 20).every((m) => m.payload.historical === true)).toBe(true);
    const lost = capture.lines().filter((l) => l.msg.includes('lost'));
    expect(lost).toHaveLength(1);
    expect(lost[0].msg).toContain('keep-alive');
    await until(() => store.stats().messages === 0, 5_000, 'all acknowledged');
  });

  it('keeps buffering when the broker refuses the credentials, says why once, delivers once accepted', async () => {
    const broker = rig.add(await startBroker({ users: { gw: 'right-password' } }), (b) => b.stop());
    const proxy = rig.add(await startProxy({ port: broker.port }), (p) => p.close());
    const capture = captureLog();
    const config = testConfig({
      url: `mqtt://127.0.0.1:${proxy.port}`,
      mqtt: { username: 'gw', password: 'wr0ng-pa55word', reconnect_min: 100, reconnect_max: 300 },
    });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
    const fwd = rig.forwarder(config, store, capture.log);
    fwd.start();
    for (let i = 0; i < 10; i++) {
      appendBatches(store, 3);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(fwd.state()).toMatchObject({
      connected: false, backlogRemaining: 30,
      lastError: expect.stringContaining('broker refused the credentials: bad user name or password'),
    });
    expect(store.stats().messages).toBe(30);
    const refusals = capture.lines().filter((l) => l.msg.includes('broker refused the credentials: bad user name or password'));
    // Several attempts in 1.5 s, one line at error level.
    expect(refusals).toHaveLength(1);
    expect(refusals[0].level).toBe(50);
    expect(capture.text()).not.toContain('wr0ng-pa55word');

    // The operator fixes the broker side: the same port, a user list that accepts this password.
    // The proxy holds the forwarder off until the test's subscriber is in place.
    proxy.reset();
    const port = broker.port;
    await broker.stop();
    const fixed = rig.add(await startBroker({ port, users: { gw: 'wr0ng-pa55word', reader: 'r' } }), (b) => b.stop());
    const sub = rig.add(await subscribe(fixed.url, { topic: 'fg/#', username: 'reader', password: 'r' }), (s) => s.close());
    proxy.pass();
    await sub.waitFor((m) => complete(m, 30), 10_000);
    await until(() => store.stats().messages === 0, 5_000, 'all acknowledged');
  });

  it('retained online status on connect, the will (offline) when the link dies, online again after', async () => {
    const broker = rig.add(await startBroker(), (b) => b.stop());
    const proxy = rig.add(await startProxy({ port: broker.port }), (p) => p.close());
    const { log } = captureLog();
    const config = testConfig({ url: `mqtt://127.0.0.1:${proxy.port}`, mqtt: { reconnect_min: 300, reconnect_max: 300 } });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, log), (s) => s.close());
    const sub = rig.add(await subscribe(broker.url, { topic: 'fg/+/status' }), (s) => s.close());
    const fwd = rig.forwarder(config, store, log);
    fwd.start();

    const [online] = status(await sub.waitFor((m) => status(m).length === 1, 5_000));
    expect(online.payload).toMatchObject({ online: true, version: expect.any(String), ts: expect.any(Number) });
    // A late subscriber gets it as a retained message.
    const late = rig.add(await subscribe(broker.url, { topic: 'fg/+/status' }), (s) => s.close());
    const [kept] = await late.waitFor((m) => m.length === 1, 5_000);
    expect(kept).toMatchObject({ retain: true, payload: { online: true } });

    proxy.reset();
    const ms = await sub.waitFor((m) => status(m).length === 2, 5_000);
    expect(status(ms)[1].payload).toEqual({ online: false, epoch: store.epoch });
    proxy.pass();
    const again = await sub.waitFor((m) => status(m).length === 3, 5_000);
    expect(status(again)[2].payload).toMatchObject({ online: true });
  });

  it('stop() publishes the retained offline status and disconnects cleanly (no will)', async () => {
    const broker = rig.add(await startBroker(), (b) => b.stop());
    const capture = captureLog();
    const config = testConfig({ url: broker.url });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
    const sub = rig.add(await subscribe(broker.url, { topic: 'fg/+/status' }), (s) => s.close());
    const fwd = rig.forwarder(config, store, capture.log);
    fwd.start();
    await sub.waitFor((m) => m.length === 1, 5_000);
    await fwd.stop();
    expect(fwd.state().connected).toBe(false);
    const ms = await sub.waitFor((m) => m.length === 2, 5_000);
    expect(ms[1].payload).toMatchObject({ online: false, ts: expect.any(Number) });
    // Had the broker fired the will too, a third message would follow.
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.messages).toHaveLength(2);
    const late = rig.add(await subscribe(broker.url, { topic: 'fg/+/status' }), (s) => s.close());
    const [kept] = await late.waitFor((m) => m.length === 1, 5_000);
    expect(kept).toMatchObject({ retain: true, payload: { online: false } });
  });

  it('stop() is bounded on a dead link; what was in flight goes out, historical, after a restart', async () => {
    const broker = rig.add(await startBroker(), (b) => b.stop());
    const proxy = rig.add(await startProxy({ port: broker.port }), (p) => p.close());
    const { log } = captureLog();
    const config = testConfig({ url: `mqtt://127.0.0.1:${proxy.port}` });
    const dir = rig.tempDir();
    const store = rig.add(openStore(dir, config.buffer, log), (s) => s.close());
    const fwd = rig.forwarder(config, store, log);
    fwd.start();
    await until(() => fwd.state().connected, 5_000, 'connected');
    proxy.blackhole();
    appendBatches(store, 20);
    await until(() => fwd.state().inflight === 20, 2_000, 'published into the dead link');
    const t0 = Date.now();
    await fwd.stop();
    expect(Date.now() - t0).toBeLessThan(4_000);
    store.close();

    // The next run: same buffer file, a working link.
    proxy.pass();
    const sub = rig.add(await subscribe(broker.url, { topic: 'fg/#' }), (s) => s.close());
    const reopened = rig.add(openStore(dir, config.buffer, log), (s) => s.close());
    expect(reopened.stats().messages).toBe(20);
    rig.forwarder(config, reopened, log).start();
    const ms = await sub.waitFor((m) => complete(m, 20), 10_000);
    expect(ms.filter((m) => m.topic !== 'fg/gw-test/status').every((m) => m.payload.historical === true)).toBe(true);
  });

  it('names a second client with the same client id when the broker keeps closing the connection soon after accepting it', async () => {
    const broker = rig.add(await startBroker(), (b) => b.stop());
    const config = testConfig({ url: broker.url, mqtt: { client_id: 'line1-gw01', reconnect_min: 100, reconnect_max: 300 } });
    const gateways = [captureLog(), captureLog()].map((capture) => {
      const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
      return { capture, fwd: rig.forwarder(config, store, capture.log) };
    });
    for (const g of gateways) g.fwd.start();
    const hint = 'another client with this client id (mqtt.client_id "line1-gw01") may be connected';
    // mosquitto closes the older of two connections with one id: the two gateways take turns.
    await until(() => gateways.every((g) => g.fwd.state().lastError?.includes(hint)), 10_000, 'both gateways to name the other one');
    const lost = gateways[0].capture.lines().filter((l) => l.msg.includes('lost'));
    expect(lost.at(-1)!.msg).toContain(`the broker closed the connection; ${hint}`);
    // Said only once it is a pattern: the first hang-up alone could be a broker restart.
    expect(lost[0].msg).not.toContain(hint);
  });
});
