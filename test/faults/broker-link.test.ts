/**
 * Faults on the link between floorgate and its broker, injected by a TCP proxy while the real
 * daemon polls a simulated PLC: a slow broker (acks delayed), a half-open link, resets, a
 * throttled link, a connection cut in the middle of an MQTT packet (each way), and a broker
 * that drops the connection every two seconds. After each: every seq arrived (no gap), the
 * daemon is still running, and /healthz and /metrics told the truth meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/stats.js';
import { eventually, getJson, getText, metric, sleep, FaultRig, type Gateway } from './rig.js';
import { recordFigures } from '../helpers/results.js';

let rig: FaultRig;
let gw: Gateway;
let faults = 0;

beforeAll(async () => {
  // 8 in flight: with acks delayed by a second, fewer messages leave than the PLC produces.
  rig = await FaultRig.start({ mqtt: { max_inflight: 8 } });
  gw = await rig.gateway();
  await rig.sub.waitFor((m) => m.length >= 5, 15_000);
}, 40_000);

afterAll(async () => {
  expect(await rig.finish(gw, 'broker link', faults)).toBe(0);
}, 30_000);

const health = () => getJson(gw.httpPort, '/healthz');
const metrics = () => getText(gw.httpPort, '/metrics');

/** Waits until everything committed so far has arrived, then checks there is no gap at all. */
async function noGap(): Promise<void> {
  const committed = readBufferStats(rig.bufferFile).last_seq;
  await eventually(() => {
    const r = rig.audit();
    return r.openGaps === 0 && (r.lastSeq ?? 0) >= committed;
  }, 20_000, `every seq up to ${committed} to arrive`);
  expect(rig.audit()).toMatchObject({ openGaps: 0, missing: 0, firstSeq: 1 });
  expect(gw.proc.child.exitCode).toBeNull();
}

describe('the broker link', () => {
  it('slow broker (every byte delayed 500 ms each way): stays connected, the backlog grows, then drains', async () => {
    faults++;
    rig.mqttProxy.latency(500);
    const samples: boolean[] = [];
    let peak = 0;
    for (let i = 0; i < 8; i++) {
      await sleep(500);
      const h = await health();
      samples.push(h.body.mqtt.connected);
      peak = Math.max(peak, metric(await metrics(), 'floorgate_buffer_messages') ?? 0, h.body.buffer.messages);
    }
    rig.mqttProxy.pass();
    expect(samples.every(Boolean)).toBe(true);
    // 8 in flight per second of round trip against 10 messages a second from the PLC.
    expect(peak).toBeGreaterThan(3);
    await noGap();
    expect(rig.audit().duplicates).toBe(0);
  }, 30_000);

  it('half-open: the keep-alive notices, healthz and metrics say disconnected (still 200), the backlog goes out historical', async () => {
    faults++;
    const before = rig.sub.messages.length;
    rig.mqttProxy.blackhole();
    const down = await eventually(async () => {
      const h = await health();
      return h.body.mqtt.connected === false ? h : undefined;
    }, 8_000, 'healthz to report the broker link down');
    expect(down.status).toBe(200);
    expect(down.body.status).toBe('degraded');
    expect(down.body.mqtt.last_error).toMatch(/keep-alive/);
    expect(metric(await metrics(), 'floorgate_mqtt_connected')).toBe(0);
    await sleep(1_000);
    expect((await health()).body.buffer.messages).toBeGreaterThan(5);
    rig.mqttProxy.pass();
    await eventually(async () => (await health()).body.mqtt.connected, 8_000, 'reconnect');
    expect(metric(await metrics(), 'floorgate_mqtt_connected')).toBe(1);
    await noGap();
    expect(rig.sub.messages.slice(before).some((m) => m.payload?.historical === true)).toBe(true);
  }, 40_000);

  it('reset: noticed at once, reconnects when the broker takes connections again', async () => {
    faults++;
    rig.mqttProxy.reset();
    const down = await eventually(async () => {
      const h = await health();
      return h.body.mqtt.connected === false ? h : undefined;
    }, 4_000, 'the reset to be noticed');
    expect(down.body.mqtt.last_error).toMatch(/ECONNRESET|closed|refused/i);
    await sleep(1_500);
    rig.mqttProxy.pass();
    await eventually(async () => (await health()).body.mqtt.connected, 8_000, 'reconnect');
    await noGap();
  }, 30_000);

  it('throttled to 1,500 bytes/s: the connection holds, data trickles, the backlog grows and then drains', async () => {
    faults++;
    const before = rig.sub.messages.length;
    rig.mqttProxy.throttle(1_500);
    const t0 = Date.now();
    let peak = 0;
    for (let i = 0; i < 8; i++) {
      await sleep(500);
      peak = Math.max(peak, metric(await metrics(), 'floorgate_buffer_messages') ?? 0);
      expect((await health()).body.mqtt.connected).toBe(true);
    }
    const during = rig.sub.messages.slice(before);
    const seconds = (Date.now() - t0) / 1000;
    rig.mqttProxy.pass();
    expect(during.length).toBeGreaterThan(0);
    // What got through fits the throttle (with two seconds' slack for what was on the way);
    // unthrottled it would be about twice as much.
    const bytes = during.reduce((n, m) => n + m.raw.length + m.topic.length + 4, 0);
    expect(bytes).toBeLessThan(1_500 * (seconds + 2));
    expect(peak).toBeGreaterThan(3);
    await noGap();
  }, 30_000);

  it('cut in the middle of a PUBLISH (floorgate → broker): the half message is sent again on a new connection', async () => {
    faults++;
    const accepted = rig.mqttProxy.accepted;
    await rig.mqttProxy.cutMidFrame(7, 'upstream');
    expect(rig.mqttProxy.cuts).toBe(1);
    await eventually(() => rig.mqttProxy.accepted > accepted && rig.mqttProxy.connections > 0, 8_000, 'a new connection');
    await noGap();
  }, 30_000);

  it('cut in the middle of a PUBACK (broker → floorgate): unacknowledged messages are sent again, duplicates counted', async () => {
    faults++;
    const accepted = rig.mqttProxy.accepted;
    const dupsBefore = rig.audit().duplicates;
    // One byte: half of any MQTT packet (the shortest is two), so always mid-frame.
    await rig.mqttProxy.cutMidFrame(1, 'downstream');
    await eventually(() => rig.mqttProxy.accepted > accepted, 8_000, 'a new connection');
    await noGap();
    const dups = rig.audit().duplicates - dupsBefore;
    recordFigures('PUBACK cut', { duplicates: dups });
    // The broker took the message whose PUBACK was cut: it is delivered again, at least once.
    expect(dups).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('a broker that drops the connection every 2 s: no gap, duplicates counted', async () => {
    const accepted = rig.mqttProxy.accepted;
    for (let i = 0; i < 5; i++) {
      await sleep(2_000);
      faults++;
      rig.mqttProxy.reset();
      rig.mqttProxy.pass();
    }
    // Every drop is followed by a new connection.
    await eventually(() => rig.mqttProxy.accepted - accepted >= 5 && rig.mqttProxy.connections > 0, 8_000, 'the fifth reconnect');
    await noGap();
    recordFigures('periodic disconnects', { drops: 5, duplicates: rig.audit().duplicates });
  }, 40_000);
});
