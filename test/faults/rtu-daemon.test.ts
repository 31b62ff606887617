/**
 * Modbus RTU faults through the whole daemon (issue 18): four units on one line (a socat pty
 * pair, the RTU simulator on its far end, in this process) beside a Modbus TCP PLC (press-1),
 * all polled by `floorgate run`:
 *
 * 1. unit 3 dead (silent) while unit 4 answers garbage (replies with a wrong CRC);
 * 2. unit 4's replies cut short (the master waits its full timeout every poll, the costliest
 *    fault for the line, since it pauses nothing) while unit 3 answers as another unit;
 * 3. the line itself closed and reopened (socat killed: both pty paths vanish like an unplugged
 *    USB adapter's, then a new pair on the same paths).
 *
 * Judged upstream: the faulty units turn bad with the reason and come back by themselves; the
 * healthy units 1 and 2 keep ≥ 80 % of their nominal poll rate during faults 1 and 2 (measured
 * from their reading timestamps), press-1 during all three; each good reading of units 1 and 2
 * answers a request the simulator received (it counts them); and every seq is accounted for.
 *
 * Not done: a unit that answers late (after the master's timeout). The RTU simulator has no such
 * mode, and no second program can answer beside it (it holds the pty's far end open exclusively,
 * as serialport does); the driver suite covers late replies with a scripted slave
 * (drivers/modbus/test/rtu-faults.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModbusRtuSim, type ModbusRtuSim, type RtuSimFaults } from '../../drivers/modbus/rtu-sim.js';
import { PtyLab } from '../../drivers/serial/test/helpers.js';
import { recordFigures } from '../helpers/results.js';
import { eventually, getJson, sleep, FaultRig, type Gateway } from './rig.js';
import { deviceReadings, expectEverySeqAccounted, goodPollTimes, ratePerSecond, round } from './upstream-verdicts.js';

const UNITS = [1, 2, 3, 4] as const;
const HEALTHY = [1, 2] as const;
const RTU_POLL_MS = 500;
/**
 * Long enough for the simulator's answer on a loaded two-core machine (it shares a process with
 * the rest of the bench), and at most half the poll interval: one unit's wasted timeout then
 * delays a neighbour's poll but never makes it miss its tick.
 */
const RTU_TIMEOUT_MS = 250;
const PRESS_POLL_MS = 100;
const MIN_SHARE = 0.8;
/** A window counts its polls to ±1: 12 polls of a unit keep that error under 10 %. */
const WINDOW_MS = 6_000;
const FAULT_MS = 8_000;

/** The line: a pty pair in a temp dir, the gateway on lab.dev, the simulator on its far end. */
const lab = new PtyLab();

const driveName = (unit: number) => `drive-${unit}`;
const drives = UNITS.map((unit) => `  - name: ${driveName(unit)}
    driver: modbus_rtu
    port: ${lab.dev}
    baud_rate: 115200
    unit_id: ${unit}
    poll_interval: ${RTU_POLL_MS}ms
    timeout: ${RTU_TIMEOUT_MS}ms
    tags:
      - { name: counter, area: holding, address: 2, type: uint32 }
`).join('');

/** One plugged-in line: the simulator on its far end, and the cable to pull. */
interface Line {
  readonly sim: ModbusRtuSim;
  unplug(): Promise<void>;
}

function plugIn(): Promise<Line> {
  return lab.plugInWith((peer) => startModbusRtuSim({ path: peer, baudRate: 115200, units: UNITS }));
}

let rig: FaultRig;
let gw: Gateway;
let line: Line;
/** Requests for units 1 and 2 that earlier lines (before a replug) received. */
const servedBefore = new Map<number, number>(HEALTHY.map((u) => [u, 0]));
let faults = 0;

beforeAll(async () => {
  line = await plugIn();
  rig = await FaultRig.start({ httpPort: 0, pollInterval: `${PRESS_POLL_MS}ms`, extraDevices: drives });
  gw = await rig.gateway();
  await rig.sub.waitFor(() => UNITS.every((u) => goodPollTimes(rig.sub.messages, driveName(u), 'counter').length >= 3), 20_000);
  // The first before-window should see the daemon running, not starting.
  await sleep(WINDOW_MS);
}, 60_000);

afterAll(async () => {
  const code = await gw?.proc.stop('SIGTERM');
  try {
    expect(code).toBe(0);
    // Every good reading of a healthy unit answers one request the simulator received; a request
    // may go unanswered upstream when its reply was cut by the replug or by the stop.
    const served = Object.fromEntries(HEALTHY.map((u) => [u, servedBefore.get(u)! + line.sim.requests(u, 3)]));
    const upstream = Object.fromEntries(HEALTHY.map((u) => [u, goodPollTimes(rig.sub.messages, driveName(u), 'counter').length]));
    await expectEverySeqAccounted('rtu daemon', rig.sub.messages, rig.bufferFile, {
      faults, unit1_served: served[1], unit1_good_upstream: upstream[1], unit2_served: served[2], unit2_good_upstream: upstream[2],
    });
    for (const u of HEALTHY) {
      expect(upstream[u]).toBeLessThanOrEqual(served[u]);
      expect(served[u] - upstream[u], `unit ${u}: requests served without a good reading upstream`).toBeLessThanOrEqual(2);
    }
  } finally {
    await rig?.close();
    await lab.cleanup();
  }
}, 60_000);

const badSince = (unit: number, since: number) =>
  deviceReadings(rig.sub.messages, driveName(unit)).filter((r) => r.quality === 'bad' && r.ts >= since);
const goodSince = (unit: number, since: number) => goodPollTimes(rig.sub.messages, driveName(unit), 'counter').filter((ts) => ts >= since);

interface UnitFault {
  readonly fault: RtuSimFaults;
  /** The first bad reading's error. */
  readonly error: RegExp;
  /** At most this many requests may reach the unit while the fault lasts (the simulator counts them). */
  readonly maxAsked?: number;
}

interface Rates {
  before: number;
  during: number;
  after: number;
}

/** Polls/s of a device's good readings before [t0-W, t0), during [t0, t1) and after [t2, t2+W). */
function rates(device: string, t0: number, t1: number, t2: number): Rates {
  const times = goodPollTimes(rig.sub.messages, device, 'counter');
  return { before: ratePerSecond(times, t0 - WINDOW_MS, t0), during: ratePerSecond(times, t0, t1), after: ratePerSecond(times, t2, t2 + WINDOW_MS) };
}

const figuresOf = (prefix: string, r: Rates) => ({
  [`${prefix}_before_per_s`]: round(r.before, 2), [`${prefix}_during_per_s`]: round(r.during, 2), [`${prefix}_after_per_s`]: round(r.after, 2),
});

function expectRate(device: string, r: Rates, nominal: number, windows: (keyof Rates)[] = ['before', 'during', 'after']): void {
  for (const w of windows) expect(r[w], `${device} polls/s ${w} the fault`).toBeGreaterThanOrEqual(MIN_SHARE * nominal);
}

/**
 * Unit faults from the simulator for FAULT_MS: the faulty units go bad with the error expected,
 * the healthy ones keep their rate, and the faulty ones are good again once the faults end.
 */
async function unitFaults(name: string, faultsByUnit: Record<number, UnitFault>): Promise<void> {
  faults++;
  const faulty = Object.keys(faultsByUnit).map(Number);
  const askedBefore = new Map(faulty.map((u) => [u, line.sim.requests(u)]));
  const t0 = Date.now();
  for (const u of faulty) line.sim.setFault(faultsByUnit[u].fault, u);
  await eventually(() => faulty.every((u) => badSince(u, t0).length > 0), 5_000, 'the faulty units to turn bad');
  for (const u of faulty) expect(badSince(u, t0)[0]).toMatchObject({ value: null, error: expect.stringMatching(faultsByUnit[u].error) });
  await sleep(t0 + FAULT_MS - Date.now());
  const healedAt = Date.now();
  for (const u of faulty) line.sim.setFault({}, u);
  const asked = new Map(faulty.map((u) => [u, line.sim.requests(u) - askedBefore.get(u)!]));
  // A dead unit is asked again after its pause (1 s doubling while it stays silent).
  await eventually(() => faulty.every((u) => goodSince(u, healedAt).length > 0), 20_000, 'the faulty units to be good again');
  const backAt = Math.max(...faulty.map((u) => goodSince(u, healedAt)[0]));
  await sleep(backAt + WINDOW_MS + 500 - Date.now());

  const healthy = Object.fromEntries(HEALTHY.map((u) => [u, rates(driveName(u), t0, healedAt, backAt)]));
  const press = rates('press-1', t0, healedAt, backAt);
  recordFigures(`rtu daemon: ${name}`, {
    nominal_unit_per_s: round(1000 / RTU_POLL_MS, 2),
    ...figuresOf('unit1', healthy[1]), ...figuresOf('unit2', healthy[2]),
    nominal_press_per_s: 1000 / PRESS_POLL_MS, ...figuresOf('press', press),
    faulty_back_after_heal_s: round((backAt - healedAt) / 1000, 2),
    ...Object.fromEntries(faulty.map((u) => [`unit${u}_asked_during_fault`, asked.get(u)!])),
    ...Object.fromEntries(faulty.map((u) => [`unit${u}_error`, String(badSince(u, t0)[0].error)])),
  });
  for (const u of faulty) if (faultsByUnit[u].maxAsked !== undefined) expect(asked.get(u), `unit ${u} asked`).toBeLessThanOrEqual(faultsByUnit[u].maxAsked!);
  expect(gw.proc.child.exitCode).toBeNull();
  for (const u of HEALTHY) {
    expect(badSince(u, t0), `unit ${u} stays good`).toEqual([]);
    expectRate(driveName(u), healthy[u], 1000 / RTU_POLL_MS);
  }
  expectRate('press-1', press, 1000 / PRESS_POLL_MS);
}

describe('Modbus RTU faults on a shared line, through the daemon', () => {
  it('one unit dead, one answering with a wrong CRC: the other two keep their poll rate', async () => {
    await unitFaults('dead unit and CRC garbage', {
      // Left alone 1 s, 2 s, 4 s … between attempts: about 4 requests in 8 s, where every poll would be 16.
      3: { fault: { mode: 'silent' }, error: /not answering|timeout after/, maxAsked: 5 },
      4: { fault: { mode: 'bad_crc' }, error: /^CRC error in a \d+-byte reply/ },
    });
  }, 60_000);

  it('replies cut short (a full timeout every poll) and a unit answering as another: the other two keep their rate', async () => {
    await unitFaults('cut-short replies and wrong unit id', {
      3: { fault: { mode: 'wrong_unit' }, error: /^reply from unit 4, expected unit 3$/ },
      4: { fault: { mode: 'short' }, error: new RegExp(`^incomplete reply: \\d+ of \\d+ bytes within ${RTU_TIMEOUT_MS} ms`) },
    });
  }, 60_000);

  it('the line unplugged and plugged back: every unit bad, then back by itself; press-1 keeps its rate', async () => {
    faults++;
    const t0 = Date.now();
    for (const u of HEALTHY) servedBefore.set(u, servedBefore.get(u)! + line.sim.requests(u, 3));
    await line.unplug();
    await eventually(() => UNITS.every((u) => badSince(u, t0).length > 0), 5_000, 'every unit to turn bad');
    for (const u of UNITS) expect(badSince(u, t0)[0].error).toMatch(/disconnected \(unplugged\?\)|not found \(unplugged/);
    await sleep(1_500);
    const healedAt = Date.now();
    line = await plugIn();
    await eventually(() => UNITS.every((u) => goodSince(u, healedAt).length > 0), 30_000, 'every unit good again');
    const backAt = Math.max(...UNITS.map((u) => goodSince(u, healedAt)[0]));
    await sleep(backAt + WINDOW_MS + 500 - Date.now());

    const press = rates('press-1', t0, backAt, backAt);
    const units = Object.fromEntries(UNITS.map((u) => [u, rates(driveName(u), t0, backAt, backAt)]));
    const devices = (await getJson(gw.httpPort, '/healthz')).body.devices as Record<string, { up: boolean }>;
    recordFigures('rtu daemon: line unplugged and plugged back', {
      nominal_press_per_s: 1000 / PRESS_POLL_MS, ...figuresOf('press', press),
      units_back_after_replug_s: round((backAt - healedAt) / 1000, 2),
      ...Object.fromEntries(UNITS.map((u) => [`unit${u}_after_per_s`, round(units[u].after, 2)])),
      unit_bad_readings: UNITS.map((u) => badSince(u, t0).length).join('/'),
    });
    expect(gw.proc.child.exitCode).toBeNull();
    for (const u of UNITS) {
      expect(devices[driveName(u)].up).toBe(true);
      // The outage is published once per unit, not once per failed reconnect.
      expect(badSince(u, t0)).toHaveLength(1);
      expectRate(driveName(u), units[u], 1000 / RTU_POLL_MS, ['after']);
    }
    expectRate('press-1', press, 1000 / PRESS_POLL_MS);
  }, 60_000);
});
