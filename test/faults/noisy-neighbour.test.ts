/**
 * A noisy neighbour (issue 18, SPEC §4.6): `floorgate run` polls two healthy Modbus TCP devices
 * (press-1 every 100 ms, press-3 every 250 ms) and a third, press-2 every 100 ms, behind a fault
 * proxy; each on a simulated PLC of its own. press-2 then misbehaves in turn:
 *
 * - slow: 80 ms each way (under its 300 ms timeout, over its 100 ms poll interval: every poll
 *   overruns);
 * - slower: 400 ms each way (over the timeout: every request times out, the device goes bad);
 * - garbage: its PLC answers every request with bytes that are not Modbus (the link drops and
 *   reconnects, again and again);
 * - garbage, trickled: the same at 200 bytes/s.
 *
 * The healthy devices' poll timing is measured from the `ts` of their readings upstream (the
 * time each value was read, so a slow reply stretches an interval too): the intervals between
 * consecutive polls (p50, p99, max) against poll_interval, in a quiet phase first and then in
 * each noisy one. Bounds: in every phase ≥ 80 % of the nominal rate, p50 within 10 % of
 * poll_interval, and no interval as long as poll_interval + press-2's timeout; for press-1 over
 * the noisy phases together (over 200 intervals, enough for a real 99th percentile) p99 ≤ 2 ×
 * poll_interval. A healthy poll that waited for press-2 (a shared queue, a blocked event loop, a
 * stalled buffer) would stretch its interval by press-2's round trip (160 ms when slow) or its
 * timeout (300 ms): 2.6 to 4 × poll_interval. A busy two-core machine stretches the odd one on
 * its own: alone this file measures p99 ≈ 1.2 × poll_interval, beside the other fault suites
 * up to ≈ 1.8 ×. press-3's fewer intervals make its p99 its maximum, which the per-phase bound
 * covers. The healthy devices' poll overruns (/metrics) are reported: a poll that waited for
 * press-2 would overrun, a tick the machine delayed would not. Every seq is accounted for at the
 * end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';
import { recordFigures } from '../helpers/results.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { eventually, getJson, getText, metric, sleep, FaultRig, type Gateway } from './rig.js';
import { expectEverySeqAccounted, deviceReadings, goodPollTimes, jitter, ratePerSecond, round, type Jitter } from './upstream-verdicts.js';

const PHASE_MS = 6_000;
/** Readings of a phase's first moments still show the previous phase ending. */
const SETTLE_MS = 500;
/** The healthy devices and their poll intervals (ms). */
const HEALTHY = { 'press-1': 100, 'press-3': 250 } as const;
type Healthy = keyof typeof HEALTHY;
/** press-2's timeout: a healthy poll that waited for it would stretch an interval by at least this. */
const NOISY_TIMEOUT_MS = 300;
const MIN_SHARE = 0.8;

let noisyPlc: ModbusSim;
let noisyProxy: TcpProxy;
let quietPlc: ModbusSim;
let rig: FaultRig;
let gw: Gateway;

const neighbours = (quietPort: number, noisyPort: number) => `  - name: press-2
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${noisyPort}
    poll_interval: 100ms
    timeout: ${NOISY_TIMEOUT_MS}ms
    tags:
      - { name: temperature, area: holding, address: 0, type: float32 }
      - { name: counter, area: holding, address: 2, type: uint32 }
  - name: press-3
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${quietPort}
    poll_interval: ${HEALTHY['press-3']}ms
    timeout: 300ms
    tags:
      - { name: counter, area: holding, address: 2, type: uint32 }
`;

beforeAll(async () => {
  noisyPlc = await startModbusSim();
  noisyProxy = await startProxy({ port: noisyPlc.port });
  quietPlc = await startModbusSim();
  rig = await FaultRig.start({ httpPort: 0, pollInterval: `${HEALTHY['press-1']}ms`, extraDevices: neighbours(quietPlc.port, noisyProxy.port) });
  gw = await rig.gateway();
  await rig.sub.waitFor(() => ['press-1', 'press-2', 'press-3'].every((d) => goodPollTimes(rig.sub.messages, d, 'counter').length >= 3), 20_000);
  // The quiet phase should see the daemon running, not starting.
  await sleep(2_000);
}, 60_000);

afterAll(async () => {
  const code = await gw?.proc.stop('SIGTERM');
  try {
    expect(code).toBe(0);
    await expectEverySeqAccounted('noisy neighbour', rig.sub.messages, rig.bufferFile);
  } finally {
    await rig?.close();
    await noisyProxy?.close();
    await noisyPlc?.close();
    await quietPlc?.close();
  }
}, 60_000);

interface Phase {
  readonly name: string;
  /** Makes press-2 misbehave (nothing for the quiet phase). */
  start(): void;
  /**
   * What press-2 must show meanwhile: good throughout; answering (good readings arrive, slowly: on
   * a busy machine a round trip may exceed the timeout now and then); or bad, with an error like this.
   */
  readonly press2: 'good' | 'answering' | RegExp;
}

const PHASES: readonly Phase[] = [
  { name: 'quiet', start: () => {}, press2: 'good' },
  { name: 'slow (80 ms each way)', start: () => noisyProxy.latency(80), press2: 'answering' },
  { name: 'slower than its timeout (400 ms each way)', start: () => noisyProxy.latency(400), press2: new RegExp(`timeout after ${NOISY_TIMEOUT_MS} ms`) },
  { name: 'garbage', start: () => { noisyProxy.pass(); noisyPlc.setFault({ mode: 'garbage' }); }, press2: /not Modbus TCP|connection|closed/ },
  { name: 'garbage at 200 bytes/s', start: () => noisyProxy.throttle(200), press2: /not Modbus TCP|connection|closed|timeout/ },
];

/** One device's timing in [from, to): rate and intervals of its polls. */
function timing(device: Healthy, from: number, to: number): { rate: number; jitter: Jitter } {
  const times = goodPollTimes(rig.sub.messages, device, 'counter');
  return { rate: ratePerSecond(times, from, to), jitter: jitter(times, from, to) };
}

function timingFigures(device: Healthy, t: { rate: number; jitter: Jitter }): [string, number][] {
  return [
    [`${device}_poll_ms`, HEALTHY[device]], [`${device}_per_s`, round(t.rate, 2)], [`${device}_intervals`, t.jitter.intervals],
    [`${device}_p50_ms`, t.jitter.p50], [`${device}_p99_ms`, t.jitter.p99], [`${device}_max_ms`, t.jitter.max],
  ];
}

describe('a noisy neighbour', () => {
  it('slow and garbage-sending press-2: press-1 and press-3 keep their poll intervals (p50, p99)', async () => {
    const devices = Object.keys(HEALTHY) as Healthy[];
    const overruns = async () => {
      const text = await getText(gw.httpPort, '/metrics');
      return Object.fromEntries(devices.map((d) => [d, metric(text, 'floorgate_poll_overruns_total', { device: d }) ?? 0]));
    };
    let overrunsSoFar = await overruns();
    const results: { phase: Phase; from: number; to: number; press2Error: string | null; overruns: Record<string, number> }[] = [];
    for (const phase of PHASES) {
      phase.start();
      const from = Date.now() + SETTLE_MS;
      await sleep(PHASE_MS);
      const to = Date.now();
      // What the operator sees of press-2 at the end of the phase: bad readings go out once per transition only.
      const press2Error = (await getJson(gw.httpPort, '/healthz')).body.devices['press-2'].error as string | null;
      const overrunsNow = await overruns();
      results.push({ phase, from, to, press2Error, overruns: Object.fromEntries(devices.map((d) => [d, overrunsNow[d] - overrunsSoFar[d]])) });
      overrunsSoFar = overrunsNow;
    }
    noisyPlc.setFault({});
    noisyProxy.pass();
    // The last phase's readings reach the broker; press-2 recovers by itself.
    await eventually(() => goodPollTimes(rig.sub.messages, 'press-2', 'counter').some((ts) => ts > results.at(-1)!.to), 20_000, 'press-2 good again');
    expect((await getJson(gw.httpPort, '/healthz')).body.devices['press-2']).toMatchObject({ up: true, error: null });

    for (const { phase, from, to, press2Error, overruns: phaseOverruns } of results) {
      const press2 = deviceReadings(rig.sub.messages, 'press-2').filter((r) => r.ts >= from && r.ts < to);
      const healthy = Object.fromEntries(devices.map((d) => [d, timing(d, from, to)]));
      recordFigures(`noisy neighbour: ${phase.name}`, {
        press2_good: press2.filter((r) => r.quality === 'good').length,
        press2_error: String(press2Error),
        ...Object.fromEntries(devices.flatMap((d) => timingFigures(d, healthy[d]))),
        ...Object.fromEntries(devices.map((d) => [`${d}_overruns`, phaseOverruns[d]])),
      });
      if (phase.press2 === 'good') {
        expect(press2.filter((r) => r.quality === 'bad'), `press-2 bad while ${phase.name}`).toEqual([]);
        expect(press2Error).toBeNull();
      } else if (phase.press2 === 'answering') {
        expect(press2.filter((r) => r.quality === 'good').length, `press-2 good readings while ${phase.name}`).toBeGreaterThan(0);
      } else {
        expect(press2Error, `press-2 while ${phase.name}`).toMatch(phase.press2);
      }
      for (const d of devices) {
        const { rate, jitter: j } = healthy[d];
        const poll = HEALTHY[d];
        expect(rate, `${d} polls/s, ${phase.name}`).toBeGreaterThanOrEqual((MIN_SHARE * 1000) / poll);
        expect(Math.abs(j.p50 - poll), `${d} p50 interval, ${phase.name}`).toBeLessThanOrEqual(0.1 * poll);
        expect(j.max, `${d} longest interval, ${phase.name}`).toBeLessThan(poll + NOISY_TIMEOUT_MS);
      }
    }

    // A phase holds too few intervals for a real 99th percentile: the noisy phases together do.
    const noisy = results.filter((r) => r.phase.name !== 'quiet');
    const from = noisy[0].from;
    const to = noisy.at(-1)!.to;
    const overall = Object.fromEntries(devices.map((d) => [d, timing(d, from, to)]));
    recordFigures('noisy neighbour: all noisy phases', Object.fromEntries(devices.flatMap((d) => timingFigures(d, overall[d]))));
    expect(overall['press-1'].jitter.intervals).toBeGreaterThanOrEqual(200);
    expect(overall['press-1'].jitter.p99, 'press-1 p99 interval over the noisy phases').toBeLessThanOrEqual(2 * HEALTHY['press-1']);
    expect(gw.proc.child.exitCode).toBeNull();
  }, 60_000);
});
