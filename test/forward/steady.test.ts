/** Connected and healthy: every message exactly once, in seq order, in the reference §3 shape, within the window. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MqttClient } from 'mqtt';
import { startBroker, type Broker } from '../helpers/broker.js';
import { subscribe } from '../helpers/subscriber.js';
import { startProxy } from '../helpers/tcp-proxy.js';
import { testConfig } from './config.js';
import { Metrics } from '../../src/metrics.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { appendBatches, appendTagReadings, captureLog, complete, isData, jsonFormat, openStore, Rig, seqsOf, until } from './setup.js';

let broker: Broker;
const rig = new Rig();
beforeAll(async () => { broker = await startBroker(); });
afterAll(async () => { await broker.stop(); });
afterEach(async () => { await rig.close(); });

describe('steady state', () => {
  it.each([1, 2] as const)('per_device, QoS %i: every seq once, in order, reference shape, live (not historical)', async (qos) => {
    const { log } = captureLog();
    const config = testConfig({ url: broker.url, mqtt: { qos, topic_prefix: 'steady' + qos } });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, log), (s) => s.close());
    const sub = rig.add(await subscribe(broker.url, { topic: `steady${qos}/#` }), (s) => s.close());
    const metrics = new Metrics(false);
    const fwd = rig.add(new Forwarder({ config, store, log, metrics, format: jsonFormat(config, store) }), (f) => f.stop());
    fwd.start();
    await until(() => fwd.state().connected, 5_000, 'connected');
    expect(metrics.mqttConnected.get()).toBe(1);

    for (let i = 0; i < 10; i++) {
      appendBatches(store, 50);
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = await sub.waitFor((m) => complete(m, 500), 15_000);
    const data = ms.filter(isData);
    expect(seqsOf(data)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    const first = data[0];
    expect(first.topic).toBe(`steady${qos}/gw-test/press-1`);
    expect(first.retain).toBe(false);
    expect(first.payload).toEqual({
      seq: 1, epoch: store.epoch, gateway: 'gw-test', device: 'press-1',
      readings: [
        { tag: 'temperature', value: expect.any(Number), quality: 'good', ts: expect.any(Number) },
        { tag: 'running', value: null, quality: 'bad', ts: expect.any(Number), error: 'exception 2: illegal data address' },
      ],
    });
    expect(data.some((m) => 'historical' in m.payload)).toBe(false);

    await until(() => store.stats().messages === 0, 5_000, 'every message acknowledged to the store');
    expect(fwd.state()).toMatchObject({ connected: true, inflight: 0, backlogRemaining: 0 });
    expect(metrics.published.get()).toBe(500);
  });

  it('per_tag, QoS 2: topic per tag, flat payload', async () => {
    const { log } = captureLog();
    const config = testConfig({ url: broker.url, mqtt: { qos: 2, publish: 'per_tag', topic_prefix: 'pertag' } });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, log), (s) => s.close());
    const sub = rig.add(await subscribe(broker.url, { topic: 'pertag/#' }), (s) => s.close());
    const fwd = rig.forwarder(config, store, log);
    fwd.start();
    await until(() => fwd.state().connected, 5_000, 'connected');
    appendTagReadings(store, 300);
    const ms = await sub.waitFor((m) => complete(m, 300), 15_000);
    const data = ms.filter(isData);
    expect(seqsOf(data)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(data[0].topic).toBe('pertag/gw-test/press-1/tag0');
    expect(data[1].topic).toBe('pertag/gw-test/press-1/tag1');
    expect(data[0].payload).toEqual({ seq: 1, epoch: store.epoch, value: expect.any(Number), quality: 'good', ts: expect.any(Number) });
  });

  it('never has more than max_inflight publishes outstanding, and uses the window', async () => {
    // A slow link makes the window the limit. Outstanding publishes are read from mqtt.js's own
    // table of unacknowledged message ids, not from the forwarder's bookkeeping.
    const proxy = rig.add(await startProxy({ port: broker.port }), (p) => p.close());
    proxy.latency(20);
    const clients = new Set<MqttClient>();
    const publish = MqttClient.prototype.publish;
    rig.add(null, () => { MqttClient.prototype.publish = publish; });
    MqttClient.prototype.publish = function (this: MqttClient, ...args: Parameters<MqttClient['publish']>) {
      clients.add(this);
      return publish.apply(this, args);
    } as MqttClient['publish'];

    const { log } = captureLog();
    const config = testConfig({ url: `mqtt://127.0.0.1:${proxy.port}`, mqtt: { max_inflight: 8, topic_prefix: 'window' } });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, log), (s) => s.close());
    const sub = rig.add(await subscribe(broker.url, { topic: 'window/#' }), (s) => s.close());
    appendBatches(store, 200);
    const fwd = rig.forwarder(config, store, log);
    let maxSeen = 0;
    let maxState = 0;
    const sampler = setInterval(() => {
      for (const c of clients) maxSeen = Math.max(maxSeen, Object.keys((c as unknown as { outgoing: object }).outgoing).length);
      maxState = Math.max(maxState, fwd.state().inflight);
    }, 1);
    rig.add(sampler, clearInterval);
    fwd.start();
    await sub.waitFor((m) => complete(m, 200), 20_000);
    // +1: the retained online status is published beside the data window.
    expect(maxSeen).toBeLessThanOrEqual(8 + 1);
    expect(maxSeen).toBeGreaterThanOrEqual(6);
    expect(maxState).toBeLessThanOrEqual(8);
    expect(maxState).toBeGreaterThanOrEqual(6);
  });
});
