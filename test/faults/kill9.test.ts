/**
 * reference §4.4 the hard way: `kill -9` of the real daemon during start-up, while connected, idle
 * with an empty buffer, in the middle of an outage, with publishes in flight and while
 * reconnecting; then a last daemon delivers the rest and is stopped with SIGTERM. The run is
 * judged against records the daemons cannot touch:
 * - what the PLC served (rig.served). Each poll reads holding 0..3, whose counter moves every
 *   millisecond (POLL_STAMPED_MAP): its value, the poll's stamp, finds the poll upstream;
 * - when each daemon was started and killed;
 * - the buffer file as each killed daemon left it, read before the next one starts;
 * - what the broker accepted (a subscriber on the broker itself).
 *
 * Verdicts:
 * 1. Nothing committed is lost. Every served poll arrives, or is still in the buffer, or was
 *    served less than commit_interval + KILL_MARGIN_MS before its daemon (the one connected to
 *    the PLC when it was served: Daemons.lifeOf) was signalled (reference: a
 *    crash loses at most commit_interval of readings taken but not committed). Every poll
 *    found in the buffer file after a kill arrives (or is still buffered), window or not.
 * 2. What arrives was served: each message's stamp and temperature are those of one served
 *    poll, and a poll travels under one seq only.
 * 3. seq only goes up across restarts: every seq carrying a poll served to a later daemon is
 *    above every seq carrying a poll served to an earlier one, all under one epoch.
 * 4. A redelivered seq carries the same bytes (apart from `"historical":true`).
 * 5. No seq gap, nothing dropped, no buffer.db.corrupt-*: a kill never makes the file unusable.
 *
 * Two tests: "fast", six kills each placed where one way of failing shows (the one a mutation
 * run uses), and a longer one with kills at seeded random moments while the broker link
 * switches between working, half-open, resetting and slow (FAULT_SEED=N replays a run).
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/stats.js';
import { parseDuration } from '../../src/config/units.js';
import { runCli, type CliProcess } from '../helpers/gateway.js';
import { dataMessages, eventually, servedPolls, sleep, FaultRig } from './rig.js';
import { seededRandom } from '../helpers/random.js';
import { recordFigures } from '../helpers/results.js';

let rig: FaultRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
}, 30_000);

/**
 * Beyond commit_interval, how long a served reply may take to reach a commit: the proxy, the
 * driver, the event loop of a busy two-core machine, the SQLite write itself. 100 ms held on a
 * quiet machine (the oldest poll lost in the window was 22–54 ms old) but not under a load of
 * 4–5 on two cores, where a reply can wait in the socket that long: the guarantee is about
 * readings *taken*, and a starved process takes them late. Every poll found committed after a
 * kill is still checked with no window at all.
 */
const KILL_MARGIN_MS = 400;

const started = (_l: string, j: Record<string, unknown> | undefined) => j?.msg === 'floorgate started';

interface UpstreamReading {
  tag: string;
  value: unknown;
  quality: string;
  ts: number;
  error?: string;
}

/** The device timeout writeGatewayConfig (test/helpers/gateway.ts) gives the PLC. */
const DEVICE_TIMEOUT_MS = 500;

/** The poll a message or buffered row carries: its good `counter` reading. */
function stampOf(readings: readonly UpstreamReading[]): number | undefined {
  const r = readings.find((x) => x.tag === 'counter' && x.quality === 'good');
  return r === undefined ? undefined : (r.value as number);
}

const temperatureOf = (readings: readonly UpstreamReading[]) => readings.find((x) => x.tag === 'temperature')?.value;

/** The messages committed in the buffer file; none when the daemon died before making it. */
function bufferedRows(file: string): { seq: number; stamp: number | undefined }[] {
  if (!fs.existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'messages'").get()) return [];
    // A per_device row's body is the message's readings array (src/message/encode.ts).
    const rows = db.prepare('SELECT seq, body FROM messages').all() as { seq: number; body: string }[];
    return rows.map((r) => ({ seq: r.seq, stamp: stampOf(JSON.parse(r.body) as UpstreamReading[]) }));
  } finally {
    db.close();
  }
}

/** One daemon: Date.now() when it was spawned and when it was sent its last signal. */
interface Life {
  readonly start: number;
  end: number;
}

/** Starts and kills the daemons of a run, keeping the times and what each kill left committed. */
class Daemons {
  readonly lives: Life[] = [];
  /** Stamps found in the buffer file right after a kill, before the next daemon could touch it. */
  readonly committedAtKills = new Set<number>();
  duringStartup = 0;

  constructor(private readonly rig: FaultRig) {}

  spawn(): CliProcess {
    this.lives.push({ start: Date.now(), end: Infinity });
    return runCli(['run', '-c', this.rig.config]);
  }

  async kill(gw: CliProcess): Promise<void> {
    this.lives.at(-1)!.end = Date.now();
    expect(await gw.stop('SIGKILL')).toBe('SIGKILL');
    for (const { stamp } of bufferedRows(this.rig.bufferFile)) if (stamp !== undefined) this.committedAtKills.add(stamp);
  }

  // The waits below count polls by their stamps, never by seq: a broken build must reach the
  // verdicts, not hang in a wait that trusted its seqs.

  /** Of these stamps, how many were served to the running daemon, and how many before it. */
  private split(stamps: readonly (number | undefined)[]): { mine: number; older: number } {
    const running = this.lives.length - 1;
    const served = new Map(servedPolls(this.rig.served).map((p) => [p.stamp, p.time]));
    let mine = 0;
    let older = 0;
    for (const stamp of stamps) {
      const time = stamp === undefined ? undefined : served.get(stamp);
      if (time === undefined) continue;
      if (this.lifeOf(time) === running) mine++;
      else older++;
    }
    return { mine, older };
  }

  /**
   * The daemon a poll served at `time` was served to: the last one whose first connection to the
   * PLC had been accepted by then. Not the last one *started* by then: a request a daemon sent
   * just before its kill can reach the PLC (through the proxy, in this process) after the test
   * has started the next daemon, which cannot poll yet (seen: served 11 ms after the next spawn,
   * then judged lost by a daemon that lived 1.5 s more).
   */
  lifeOf(time: number): number {
    const accepts = this.rig.plcProxy.acceptedAt;
    for (let i = this.lives.length - 1; i >= 0; i--) {
      const { start, end } = this.lives[i];
      const connected = accepts.find((t) => t >= start && t <= end);
      if (connected !== undefined && connected <= time) return i;
    }
    return -1;
  }

  /** Polls of the running daemon committed in the buffer file. */
  committedNow(): number {
    return this.split(bufferedRows(this.rig.bufferFile).map((row) => row.stamp)).mine;
  }

  /**
   * A last daemon on a working link, until the buffer holds no poll served before it and 5 of
   * its own have arrived (so the last restart is judged too); then SIGTERM. Whether
   * everything arrived is for judge() to say.
   */
  async drain(what: string): Promise<void> {
    this.rig.mqttProxy.pass();
    this.rig.plcProxy.pass();
    const gw = this.spawn();
    await eventually(() => {
      const arrived = this.split(dataMessages(this.rig.sub.messages).map((m) => stampOf(m.payload.readings))).mine;
      return arrived >= 5 && this.split(bufferedRows(this.rig.bufferFile).map((row) => row.stamp)).older === 0;
    }, 30_000, `the backlog to leave the buffer and 5 new polls to arrive (${what})`);
    this.lives.at(-1)!.end = Date.now();
    expect(await gw.stop('SIGTERM')).toBe(0);
  }
}

/**
 * The payload without its `historical` flag, the one member a redelivery may add. The text
 * cannot occur anywhere else in JSON: inside a string its quotes would be escaped.
 */
const withoutHistorical = (raw: Buffer) => raw.toString('utf8').replace(',"historical":true', '');

/** At most 10 items and a count of the rest: a broken build must not bury the verdicts in output. */
function few<T>(items: readonly T[]): (T | string)[] {
  return items.length <= 10 ? [...items] : [...items.slice(0, 10), `and ${items.length - 10} more`];
}

/** Ascending seqs as runs: [1, 2, 3, 7] → ['1..3', '7']. */
function runs(seqs: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < seqs.length;) {
    let j = i;
    while (j + 1 < seqs.length && seqs[j + 1] === seqs[j] + 1) j++;
    out.push(i === j ? `${seqs[i]}` : `${seqs[i]}..${seqs[j]}`);
    i = j + 1;
  }
  return out;
}

/** Judges the run (see the header) and prints its figures. */
function judge(rig: FaultRig, daemons: Daemons, test: string, shown: Record<string, number | string>): void {
  const what = `${test}${shown.seed === undefined ? '' : `, seed ${shown.seed}`}`;
  const commitInterval = parseDuration(parse(fs.readFileSync(rig.config, 'utf8')).buffer.commit_interval)!;
  const window = commitInterval + KILL_MARGIN_MS;

  const polls = servedPolls(rig.served);
  const pollByStamp = new Map(polls.map((p) => [p.stamp, p]));
  expect(pollByStamp.size, 'every served poll has a stamp of its own').toBe(polls.length);

  const messages = dataMessages(rig.sub.messages);
  const firstBytes = new Map<number, string>();
  let redelivered = 0;
  const changedOnRedelivery = new Set<number>();
  const seqsOfStamp = new Map<number, Set<number>>();
  const neverServed: number[] = [];
  const wrongValue: number[] = [];
  for (const m of messages) {
    const seq = m.payload.seq as number;
    const bytes = withoutHistorical(m.raw);
    const first = firstBytes.get(seq);
    if (first === undefined) firstBytes.set(seq, bytes);
    else {
      redelivered++;
      if (bytes !== first) changedOnRedelivery.add(seq);
    }
    const stamp = stampOf(m.payload.readings);
    if (stamp === undefined) continue;
    const poll = pollByStamp.get(stamp);
    if (poll === undefined) neverServed.push(seq);
    // Published as the shortest decimal of the served float32: the same float32 is the same value.
    else if (Math.fround(temperatureOf(m.payload.readings) as number) !== poll.temperature) wrongValue.push(seq);
    seqsOfStamp.set(stamp, (seqsOfStamp.get(stamp) ?? new Set()).add(seq));
  }

  const leftInBuffer = bufferedRows(rig.bufferFile);
  const stillBuffered = new Set(leftInBuffer.map((row) => row.stamp));
  // A reply the daemon waited for longer than the device timeout (a loaded machine can stall it
  // that long) is reported upstream as a timeout, not as the served value: the poll was never a
  // reading of the daemon's, so no loss of the buffer's. Its timeout reading is stamped when the
  // timeout fired, about DEVICE_TIMEOUT_MS after the PLC served the request.
  const timeoutsAt = messages.flatMap((m) => m.payload.readings)
    .filter((r) => r.tag === 'counter' && r.quality === 'bad' && /timeout/i.test(String(r.error ?? '')))
    .map((r) => r.ts);
  const timedOutLater = (served: number) => timeoutsAt.some((ts) => ts >= served - 100 && ts <= served + DEVICE_TIMEOUT_MS + 1000);
  const lost: string[] = [];
  let lostInWindow = 0;
  let oldestLostInWindow = -Infinity;
  let timedOut = 0;
  for (const p of polls) {
    if (seqsOfStamp.has(p.stamp) || stillBuffered.has(p.stamp)) continue;
    if (timedOutLater(p.time)) {
      timedOut++;
      continue;
    }
    // A poll served while no daemon was connected would be a broken rig: reported as lost.
    const beforeEnd = (daemons.lives[daemons.lifeOf(p.time)]?.end ?? Infinity) - p.time;
    if (beforeEnd >= window) lost.push(`stamp ${p.stamp}, served ${beforeEnd} ms before its daemon ended`);
    else {
      lostInWindow++;
      oldestLostInWindow = Math.max(oldestLostInWindow, beforeEnd);
    }
  }
  const committedLost = [...daemons.committedAtKills].filter((s) => !seqsOfStamp.has(s) && !stillBuffered.has(s));
  const underSeveralSeqs = [...seqsOfStamp].filter(([, seqs]) => seqs.size > 1).map(([stamp, seqs]) => `${stamp}: ${[...seqs]}`);

  // Per daemon, the seqs its polls travel under; each must start above all earlier ones.
  const ranges = daemons.lives.map(() => ({ min: Infinity, max: -Infinity }));
  for (const [stamp, seqs] of seqsOfStamp) {
    const range = ranges[daemons.lifeOf(pollByStamp.get(stamp)?.time ?? -Infinity)];
    if (range === undefined) continue;
    for (const seq of seqs) {
      range.min = Math.min(range.min, seq);
      range.max = Math.max(range.max, seq);
    }
  }
  const wentBack: string[] = [];
  let highest = -Infinity;
  ranges.forEach((r, i) => {
    if (r.min <= highest) wentBack.push(`daemon ${i} published seq ${r.min}..${r.max}, after seq ${highest} was taken by an earlier one`);
    highest = Math.max(highest, r.max);
  });

  const stats = readBufferStats(rig.bufferFile);
  const gapSeqs: number[] = [];
  for (let seq = 1; seq <= stats.last_seq; seq++) if (!firstBytes.has(seq)) gapSeqs.push(seq);
  const stillBufferedSeqs = new Set(leftInBuffer.map((row) => row.seq));
  const missingSeqs = gapSeqs.filter((seq) => !stillBufferedSeqs.has(seq));
  const epochs = [...new Set(messages.map((m) => m.payload.epoch as unknown))];
  const corrupt = fs.readdirSync(rig.dataDir).filter((f) => f.startsWith('buffer.db.corrupt-'));
  const report = rig.audit();

  recordFigures(test, {
    ...shown,
    daemons: daemons.lives.length, polls_served: polls.length, delivered_polls: seqsOfStamp.size,
    committed_at_kills: daemons.committedAtKills.size, lost_in_window: lostInWindow, timed_out: timedOut,
    oldest_lost_in_window_ms: Number.isFinite(oldestLostInWindow) ? oldestLostInWindow : '-', window_ms: window,
    lost: lost.length + committedLost.length, seqs_checked: stats.last_seq, missing_seqs: missingSeqs.length,
    redelivered, changed_on_redelivery: changedOnRedelivery.size, seq_went_back: wentBack.length,
    still_buffered: leftInBuffer.length, corrupt_files: corrupt.length,
  });
  expect(polls.length, `${what}: the PLC served polls`).toBeGreaterThan(30);
  // Every verdict is reported, not only the first that fails: together they name the bug.
  expect.soft(few(neverServed), `${what}: seqs carrying a stamp the PLC never served`).toEqual([]);
  expect.soft(few(wrongValue), `${what}: seqs whose temperature is not the one served with their stamp`).toEqual([]);
  expect.soft(few(committedLost), `${what}: polls committed at a kill that never arrived`).toEqual([]);
  expect.soft(few(lost), `${what}: polls served ${window} ms or more before a kill that never arrived`).toEqual([]);
  expect.soft(few(underSeveralSeqs), `${what}: polls sent under more than one seq`).toEqual([]);
  expect.soft(few(wentBack), `${what}: seq went back across a restart`).toEqual([]);
  expect.soft(epochs, `${what}: a kill -9 keeps the seq stream, so one epoch`).toHaveLength(1);
  expect.soft(few([...changedOnRedelivery]), `${what}: seqs redelivered with other content`).toEqual([]);
  expect.soft(few(runs(missingSeqs)), `${what}: seqs assigned but neither arrived nor buffered`).toEqual([]);
  expect.soft(corrupt, `${what}: buffer files moved aside as corrupt`).toEqual([]);
  expect.soft(stats.dropped, `${what}: dropped readings`).toEqual({ full: 0, max_age: 0 });
  expect.soft(report.firstSeq, `${what}: the first seq`).toBe(1);
}


const KILLS = 12;

describe('kill -9', () => {
  it('fast: 6 kills (connected, idle with an empty buffer, mid-outage, publishes in flight, start-up, reconnecting): nothing committed lost, seq only up, redeliveries identical', async () => {
    rig = await FaultRig.start({ pollInterval: '50ms' }, { recordServed: true });
    const r = rig;
    const daemons = new Daemons(r);
    const newMessages = async (n: number) => {
      const from = r.sub.messages.length;
      await r.sub.waitFor((m) => dataMessages(m.slice(from)).length >= n, 15_000);
    };
    const up = async (gw: CliProcess) => { await gw.waitFor(started, 20_000); };

    // Connected: its newest commits went out live, so a restart that reuses their seqs shows as
    // a seq going back and as a seq redelivered with other content.
    let gw = daemons.spawn();
    await up(gw);
    await newMessages(10);
    await daemons.kill(gw);

    // Idle: the PLC unreachable, the device-down message delivered and deleted. An empty buffer
    // must still know the last seq it assigned.
    r.plcProxy.reset();
    const fromIdle = r.sub.messages.length;
    gw = daemons.spawn();
    await up(gw);
    await eventually(
      () => dataMessages(r.sub.messages.slice(fromIdle)).some((m) => stampOf(m.payload.readings) === undefined) && bufferedRows(r.bufferFile).length === 0,
      15_000, 'the device-down message to arrive and the buffer to empty',
    );
    await daemons.kill(gw);
    r.plcProxy.pass();

    // Mid-outage: commits that never left, so a restart that loses them loses them for good.
    r.mqttProxy.blackhole();
    gw = daemons.spawn();
    await up(gw);
    await eventually(() => daemons.committedNow() >= 10, 15_000, '10 polls committed during the outage');
    await daemons.kill(gw);

    // Publishes in flight: the broker has them, their PUBACKs are 300 ms away; the next daemon
    // must send them again, byte for byte.
    r.mqttProxy.latency(300);
    gw = daemons.spawn();
    await up(gw);
    await newMessages(3);
    await daemons.kill(gw);

    // In the middle of start-up: the buffer may be opening or recovering its WAL.
    r.mqttProxy.pass();
    gw = daemons.spawn();
    daemons.duringStartup++;
    await sleep(150);
    await daemons.kill(gw);

    // Reconnecting: every connection to the broker is reset; polls go on into the buffer.
    r.mqttProxy.reset();
    gw = daemons.spawn();
    await up(gw);
    await sleep(600);
    await daemons.kill(gw);

    await daemons.drain('fast');
    judge(r, daemons, 'kill -9 fast', { kills: 6, during_startup: daemons.duringStartup });
  }, 60_000);

  it(`${KILLS} kills at random moments across outages and reconnects: nothing committed lost, seq only up, redeliveries identical`, async () => {
    const seed = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const rand = seededRandom(seed);
    rig = await FaultRig.start({ pollInterval: '50ms' }, { recordServed: true });
    const r = rig;
    const link = r.mqttProxy;
    const daemons = new Daemons(r);
    const setLink = () => {
      const x = rand();
      if (x < 0.45) link.pass();
      else if (x < 0.65) link.blackhole();
      else if (x < 0.8) link.reset();
      else link.latency(300);
    };
    let linkFaults = 0;
    for (let i = 0; i < KILLS; i++) {
      setLink();
      linkFaults++;
      const gw = daemons.spawn();
      if (i > 0 && rand() < 0.25) {
        // In the middle of start-up: the buffer may be opening, recovering its WAL, or not yet there.
        daemons.duringStartup++;
        await sleep(100 + rand() * 500);
      } else {
        await gw.waitFor(started, 20_000);
        // The first daemon dies only once its first commit recorded the seq reservation: a kill
        // between the reservation and that commit legitimately skips a whole block of seqs
        // (src/buffer/seq-floor.ts), which this test would count as missing.
        if (i === 0) await eventually(() => daemons.committedNow() > 0, 15_000, 'the first commit');
        // Up to 2 s of life: commits, publishes, maybe a reconnect; half the time the link changes meanwhile.
        const life = rand() * 2_000;
        await sleep(life / 2);
        if (rand() < 0.5) {
          setLink();
          linkFaults++;
        }
        await sleep(life / 2);
      }
      await daemons.kill(gw);
    }
    await daemons.drain(`seed ${seed}`);
    judge(r, daemons, 'kill -9', { seed, kills: KILLS, during_startup: daemons.duringStartup, link_faults: linkFaults });
  }, 90_000);
});
