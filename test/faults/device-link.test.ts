/**
 * Faults on the link between floorgate and a Modbus TCP PLC, injected by a TCP proxy while the
 * real daemon runs: latency under and over the request timeout, a half-open link, resets, a
 * throttled link and a reply cut in half. The device's quality, /healthz and /metrics must say
 * what happened, the device must come back once the link does, and upstream nothing may be
 * missing: a failing device is that device's bad quality, never a gap or a crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/stats.js';
import { eventually, getJson, getText, metric, readingsSince, sleep, FaultRig, type Gateway, type Reading } from './rig.js';

let rig: FaultRig;
let gw: Gateway;
let faults = 0;
const DEVICE = { device: 'press-1' };

beforeAll(async () => {
  rig = await FaultRig.start();
  gw = await rig.gateway();
  await rig.sub.waitFor((m) => m.length >= 5, 15_000);
}, 40_000);

afterAll(async () => {
  expect(await rig.finish(gw, 'device link', faults)).toBe(0);
}, 30_000);

const device = async () => (await getJson(gw.httpPort, '/healthz')).body.devices['press-1'] as { up: boolean; error: string | null };
const metrics = () => getText(gw.httpPort, '/metrics');

const bad = (rs: Reading[]) => rs.filter((r) => r.quality === 'bad');
const good = (rs: Reading[]) => rs.filter((r) => r.quality === 'good');

/** The device answers again: healthz up, metric 1, good readings arriving. */
async function recovers(timeoutMs: number): Promise<void> {
  await eventually(async () => (await device()).up, timeoutMs, 'the device to be up again');
  expect(metric(await metrics(), 'floorgate_device_up', DEVICE)).toBe(1);
  const from = rig.sub.messages.length;
  await rig.sub.waitFor(() => good(readingsSince(rig.sub, from)).length >= 3, 5_000);
  expect((await device()).error).toBeNull();
}

/** Nothing committed is missing upstream, and the daemon still runs. */
async function noGap(): Promise<void> {
  const committed = readBufferStats(rig.bufferFile).last_seq;
  await eventually(() => {
    const r = rig.audit();
    return r.openGaps === 0 && (r.lastSeq ?? 0) >= committed;
  }, 15_000, `every seq up to ${committed} to arrive`);
  expect(gw.proc.child.exitCode).toBeNull();
}

/** Waits for the device to be reported down, with the error matching. */
async function goesDown(error: RegExp, timeoutMs = 5_000): Promise<void> {
  const d = await eventually(async () => {
    const s = await device();
    return s.up ? undefined : s;
  }, timeoutMs, 'the device to be reported down');
  expect(d.error).toMatch(error);
  expect(metric(await metrics(), 'floorgate_device_up', DEVICE)).toBe(0);
}

describe('the PLC link', () => {
  it('latency under the timeout (100 ms each way): readings stay good, overruns are counted', async () => {
    faults++;
    const overruns = metric(await metrics(), 'floorgate_poll_overruns_total', DEVICE) ?? 0;
    const from = rig.sub.messages.length;
    rig.plcProxy.latency(100);
    await sleep(2_500);
    rig.plcProxy.pass();
    const rs = readingsSince(rig.sub, from);
    expect(good(rs).length).toBeGreaterThan(3);
    expect(bad(rs)).toEqual([]);
    expect((await device()).up).toBe(true);
    // A 100 ms poll interval cannot be kept with a 200 ms round trip.
    expect(metric(await metrics(), 'floorgate_poll_overruns_total', DEVICE)).toBeGreaterThan(overruns);
    await noGap();
  }, 30_000);

  it('latency over the timeout (800 ms each way): bad quality saying "timeout", then good again', async () => {
    faults++;
    const from = rig.sub.messages.length;
    rig.plcProxy.latency(800);
    await goesDown(/timeout/);
    rig.plcProxy.pass();
    await recovers(8_000);
    const errors = bad(readingsSince(rig.sub, from));
    expect(errors.length).toBeGreaterThan(0);
    for (const r of errors) expect(r).toMatchObject({ value: null, error: expect.stringMatching(/timeout/) });
    await noGap();
  }, 30_000);

  it('half-open: timeouts while it lasts, and the device comes back once the path does', async () => {
    faults++;
    rig.plcProxy.blackhole();
    await goesDown(/timeout/);
    await sleep(1_000);
    rig.plcProxy.pass();
    // The old connection is dead for good (its bytes vanished); a new one must be made.
    await recovers(15_000);
    await noGap();
  }, 40_000);

  it('reset: the connection is lost, reconnects are refused, and it comes back', async () => {
    faults++;
    const from = rig.sub.messages.length;
    rig.plcProxy.reset();
    await goesDown(/ECONNRESET|closed|connect/);
    await sleep(1_000);
    rig.plcProxy.pass();
    await recovers(10_000);
    expect(bad(readingsSince(rig.sub, from)).length).toBeGreaterThan(0);
    await noGap();
  }, 30_000);

  it('throttled to 300 bytes/s: slower, still good', async () => {
    faults++;
    const from = rig.sub.messages.length;
    rig.plcProxy.throttle(300);
    await sleep(3_000);
    rig.plcProxy.pass();
    const rs = readingsSince(rig.sub, from);
    expect(good(rs).length).toBeGreaterThan(3);
    expect(bad(rs)).toEqual([]);
    await noGap();
  }, 30_000);

  it('a reply cut after 5 bytes: the half frame is not taken for data, the device reconnects', async () => {
    faults++;
    const from = rig.sub.messages.length;
    const accepted = rig.plcProxy.accepted;
    await rig.plcProxy.cutMidFrame(5, 'downstream');
    await eventually(() => rig.plcProxy.accepted > accepted, 8_000, 'a new connection to the PLC');
    await recovers(8_000);
    const rs = readingsSince(rig.sub, from);
    // Every good value is a whole one: the simulated counter is an unsigned integer.
    for (const r of good(rs).filter((x) => x.tag === 'counter')) expect(Number.isInteger(r.value)).toBe(true);
    for (const r of bad(rs)) expect(r.error).toMatch(/connection|closed|frame/);
    await noGap();
  }, 30_000);
});
