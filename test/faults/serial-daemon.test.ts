/**
 * Raw serial faults through the whole daemon (issue 18): a listen-only scale (`driver: serial`)
 * on a socat pty pair beside a Modbus TCP PLC (press-1), both polled by `floorgate run`. The
 * scale is the serial simulator (drivers/serial/sim.ts) on the pair's far end, printing lines
 * the test numbers itself — `ST,GS,  17.000 kg` is line 17 — so every weight upstream names the
 * line it came from, and the test knows which lines were sent clean.
 *
 * 1. noise bursts between lines: random bytes (any value, delimiters included) every 400 ms,
 *    and once 6 KiB without a delimiter (beyond the 4 KiB line cap);
 * 2. the adapter unplugged in the middle of a line (half a line written, then socat killed:
 *    both paths vanish) and plugged back (a new pair on the same paths) with the tail of a line
 *    as the first thing on the wire.
 *
 * Judged upstream: every weight that arrives is a line that was sent whole (nothing invented
 * from noise, a half line or a tail); every clean line arrives — bar the one right after a
 * burst, which the burst may have joined (a burst rarely ends in CR LF, so it usually does);
 * the scale has its full line rate again after the noise and comes back by itself after the
 * replug, bad exactly once; press-1 keeps ≥ 80 % of its poll rate throughout; every seq is
 * accounted for.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaleLine, startSerialSim, type SerialSim } from '../../drivers/serial/sim.js';
import { PtyLab } from '../../drivers/serial/test/helpers.js';
import { recordFigures } from '../helpers/results.js';
import { eventually, getJson, sleep, FaultRig, type Gateway } from './rig.js';
import { expectEverySeqAccounted, deviceReadings, goodPollTimes, ratePerSecond, round } from './upstream-verdicts.js';

const SCALE = 'scale-1';
const LINE_MS = 100;
const PRESS_POLL_MS = 100;
const MIN_SHARE = 0.8;
const WINDOW_MS = 3_000;
const NOISE_MS = 6_000;
/** Beyond the driver's 4 KiB line cap. */
const LONG_NOISE_BYTES = 6 * 1024;

/** The line: a pty pair in a temp dir, the gateway on lab.dev, the simulator on its far end. */
const lab = new PtyLab();

const scaleDevice = `  - name: ${SCALE}
    driver: serial
    port: ${lab.dev}
    baud_rate: 9600
    delimiter: "\\r\\n"
    pattern: '^ST,GS,\\s*(?<weight>[-+]?\\d+(\\.\\d+)?)\\s*kg$'
    tags:
      - { name: weight, type: float64 }
`;

interface SentLine {
  readonly n: number;
  /** Written right after noise, which may have joined it into one bad line. */
  readonly afterNoise: boolean;
}

/**
 * The instrument: numbered lines every LINE_MS through the simulator, and noise on demand. The
 * simulator runs in answer mode for a command nobody sends, so every byte on the wire is one
 * this class wrote.
 */
class NumberedScale {
  readonly sent: SentLine[] = [];
  /** Line numbers cut by an unplug: half of them reached the wire, they must never arrive. */
  readonly cut: number[] = [];
  private next = 1;
  private noiseJustSent = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(public sim: SerialSim) {}

  start(): void {
    this.timer = setInterval(() => void this.line(), LINE_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async noise(bytes: Buffer): Promise<void> {
    this.noiseJustSent = true;
    await this.sim.send(bytes);
  }

  /** Half of the next line, as an unplug would leave it. */
  async halfLine(): Promise<void> {
    const n = this.next++;
    this.cut.push(n);
    const text = `${scaleLine(n)}\r\n`;
    await this.sim.send(text.slice(0, text.length / 2));
  }

  private async line(): Promise<void> {
    const n = this.next++;
    this.sent.push({ n, afterNoise: this.noiseJustSent });
    this.noiseJustSent = false;
    await this.sim.send(`${scaleLine(n)}\r\n`);
  }
}

/** One plugged-in line: the simulator on its far end, and the cable to pull. */
interface Line {
  readonly sim: SerialSim;
  unplug(): Promise<void>;
}

function plugIn(): Promise<Line> {
  // Answer mode for a command the listen-only gateway never sends: the simulator prints nothing on its own.
  return lab.plugInWith((peer) => startSerialSim({ path: peer, request: 'NEVER-ASKED' }));
}

let rig: FaultRig;
let gw: Gateway;
let line: Line;
let scale: NumberedScale;
let faults = 0;

beforeAll(async () => {
  line = await plugIn();
  scale = new NumberedScale(line.sim);
  rig = await FaultRig.start({ httpPort: 0, pollInterval: `${PRESS_POLL_MS}ms`, extraDevices: scaleDevice });
  gw = await rig.gateway();
  await eventually(() => gw.proc.stdout.some((l) => l.includes('"listening for lines"')), 15_000, 'the scale port to be open');
  scale.start();
  await rig.sub.waitFor(() => weights().length >= 5, 15_000);
  await sleep(WINDOW_MS);
}, 60_000);

afterAll(async () => {
  scale?.stop();
  const code = await gw?.proc.stop('SIGTERM');
  try {
    expect(code).toBe(0);
    await expectEverySeqAccounted('serial daemon', rig.sub.messages, rig.bufferFile, { faults });
  } finally {
    await rig?.close();
    await lab.cleanup();
  }
}, 60_000);

const scaleReadings = () => deviceReadings(rig.sub.messages, SCALE);
/** The good weights upstream: line numbers. */
const weights = () => scaleReadings().filter((r) => r.quality === 'good').map((r) => r.value as number);

/** Every weight upstream was a line sent whole, and none was cut by the unplug. */
function expectOnlySentLines(): void {
  const sent = new Set(scale.sent.map((s) => s.n));
  expect(weights().filter((w) => !sent.has(w))).toEqual([]);
  expect(weights().filter((w) => scale.cut.includes(w))).toEqual([]);
}

/** Clean lines numbered first..last (inclusive) that never arrived. */
function cleanLinesLost(first: number, last: number): number[] {
  const arrived = new Set(weights());
  return scale.sent.filter((s) => s.n >= first && s.n <= last && !s.afterNoise && !arrived.has(s.n)).map((s) => s.n);
}

const lastSent = () => scale.sent.at(-1)?.n ?? 0;
const rates = (device: string, tag: string, t0: number, t1: number, t2: number) => {
  const times = goodPollTimes(rig.sub.messages, device, tag);
  return { before: ratePerSecond(times, t0 - WINDOW_MS, t0), during: ratePerSecond(times, t0, t1), after: ratePerSecond(times, t2, t2 + WINDOW_MS) };
};
const rounded = (prefix: string, r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([w, v]) => [`${prefix}_${w}_per_s`, round(v, 2)]));

describe('a serial instrument failing, through the daemon', () => {
  it('noise bursts: counted as bad lines, nothing invented, no clean line lost, the line rate kept', async () => {
    faults++;
    const logFrom = gw.proc.stdout.length;
    const t0 = Date.now();
    const firstLine = lastSent() + 1;
    let bursts = 0;
    let noiseBytes = 0;
    while (Date.now() < t0 + NOISE_MS) {
      await sleep(400);
      const burst = bursts === 5 ? randomBytes(LONG_NOISE_BYTES) : randomBytes(16 + Math.floor(Math.random() * 200));
      await scale.noise(burst);
      bursts++;
      noiseBytes += burst.length;
    }
    const t1 = Date.now();
    const lastLine = lastSent();
    await sleep(WINDOW_MS + 500);

    const ignored = gw.proc.stdout.slice(logFrom).filter((l) => l.includes('serial line') && l.includes('ignored'));
    const lost = cleanLinesLost(firstLine, lastLine);
    const scaleRates = rates(SCALE, 'weight', t0, t1, t1);
    const press = rates('press-1', 'counter', t0, t1, t1);
    const linesAfterNoise = scale.sent.filter((s) => s.n >= firstLine && s.n <= lastLine && s.afterNoise);
    const arrived = new Set(weights());
    recordFigures('serial daemon: noise bursts', {
      bursts, noise_bytes: noiseBytes, lines_sent: lastLine - firstLine + 1,
      lines_after_noise: linesAfterNoise.length, lines_after_noise_lost: linesAfterNoise.filter((s) => !arrived.has(s.n)).length,
      clean_lines_lost: lost.length,
      nominal_scale_per_s: 1000 / LINE_MS, ...rounded('scale', scaleRates),
      nominal_press_per_s: 1000 / PRESS_POLL_MS, ...rounded('press', press),
    });
    expect(gw.proc.child.exitCode).toBeNull();
    expect(lost).toEqual([]);
    expectOnlySentLines();
    // A bad line is counted and logged (rate-limited), never a bad reading.
    expect(scaleReadings().filter((r) => r.quality === 'bad')).toEqual([]);
    expect(ignored.length).toBeGreaterThan(0);
    // During the noise the scale's rate is what the noise left of the line (every clean line, as checked
    // above); before and after, the full rate.
    for (const w of ['before', 'after'] as const) expect(scaleRates[w], `scale lines/s ${w}`).toBeGreaterThanOrEqual(MIN_SHARE * 1000 / LINE_MS);
    for (const [w, rate] of Object.entries(press)) expect(rate, `press-1 polls/s ${w}`).toBeGreaterThanOrEqual(MIN_SHARE * 1000 / PRESS_POLL_MS);
  }, 60_000);

  it('unplugged mid-line and plugged back: bad once, back by itself, no half line taken for a reading', async () => {
    faults++;
    const t0 = Date.now();
    scale.stop();
    await scale.halfLine();
    await line.unplug();
    await eventually(() => scaleReadings().some((r) => r.quality === 'bad'), 5_000, 'the scale to turn bad');
    const bad = scaleReadings().filter((r) => r.quality === 'bad');
    expect(bad[0]).toMatchObject({ value: null, error: expect.stringMatching(/disconnected \(unplugged\?\)/) });
    await sleep(1_500);
    const replugAt = Date.now();
    line = await plugIn();
    scale.sim = line.sim;
    // The rest of a line the instrument was printing when the cable went back in.
    await line.sim.send(' 3.000 kg\r\n');
    const firstAfter = lastSent() + 1;
    scale.start();
    const back = await eventually(() => scaleReadings().find((r) => r.quality === 'good' && (r.value as number) >= firstAfter), 15_000, 'a weight after the replug');
    await sleep(WINDOW_MS);
    // Lines still on their way are not judged: the last one checked was sent a second ago.
    const lastLine = lastSent();
    await sleep(1_000);

    const press = rates('press-1', 'counter', t0, back.ts, back.ts);
    const scaleAfter = rates(SCALE, 'weight', back.ts, back.ts, back.ts).after;
    const lost = cleanLinesLost(back.value as number, lastLine);
    recordFigures('serial daemon: unplugged mid-line', {
      scale_bad_readings: scaleReadings().filter((r) => r.quality === 'bad').length,
      back_after_replug_s: round((back.ts - replugAt) / 1000, 2),
      lines_before_first_arrival: (back.value as number) - firstAfter,
      clean_lines_lost_after_first_arrival: lost.length,
      scale_after_per_s: round(scaleAfter, 2),
      nominal_press_per_s: 1000 / PRESS_POLL_MS, ...rounded('press', press),
    });
    expect(gw.proc.child.exitCode).toBeNull();
    expect((await getJson(gw.httpPort, '/healthz')).body.devices[SCALE]).toMatchObject({ up: true, error: null });
    // Published once per transition, not once per reopening attempt.
    expect(scaleReadings().filter((r) => r.quality === 'bad')).toHaveLength(1);
    expectOnlySentLines();
    expect(lost).toEqual([]);
    expect(scaleAfter).toBeGreaterThanOrEqual(MIN_SHARE * 1000 / LINE_MS);
    for (const [w, rate] of Object.entries(press)) expect(rate, `press-1 ${w}`).toBeGreaterThanOrEqual(MIN_SHARE * 1000 / PRESS_POLL_MS);
  }, 60_000);
});
