/**
 * A gateway without a real-time clock (reference §4.12), end to end: `floorgate run` under
 * libfaketime, whose wall clock the test moves while the monotonic clock runs true
 * (FAKETIME_DONT_FAKE_MONOTONIC), and a sync source the test writes (clock.sync_source: a file).
 * What does not work here: a time namespace offsets only CLOCK_MONOTONIC and CLOCK_BOOTTIME, never
 * the wall clock, and adjtimex is not namespaced — setting the kernel's sync flag would change the
 * host's clock and needs CAP_SYS_TIME. The kernel source is checked on its own against Python's
 * adjtimex (test/clock/sync-source.test.ts).
 *
 * The daemon starts 3 days behind, unsynchronised, with the broker unreachable. A first daemon
 * stands for an earlier boot: its rows are relabelled in the buffer file to another boot id, as
 * a reboot would leave them (a test cannot reboot the machine, and the kernel's boot id is the
 * only thing that tells boots apart). A second daemon polls on; then the clock steps to the true
 * time, the source says synchronised, and the broker comes back.
 *
 * Judged against the PLC simulator, which runs in this process outside faketime and records the
 * true time of every poll it serves; each poll's counter value names it upstream.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliProcess } from '../helpers/gateway.js';
import { recordFigures } from '../helpers/results.js';
import { needTool } from '../helpers/tools.js';
import type { Received } from '../helpers/subscriber.js';
import { audit, dataMessages, FaultRig, getJson, getText, metric, servedPolls, sleep } from './rig.js';

const LIBFAKETIME = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'arm-linux-gnueabihf']
  .map((triplet) => `/usr/lib/${triplet}/faketime/libfaketime.so.1`)
  .find((file) => fs.existsSync(file));
const present = needTool('faketime', LIBFAKETIME !== undefined, 'the untrusted-clock scenario (libfaketime moves the daemon\'s wall clock)');

const DAYS_3 = 3 * 86_400_000;
/** How far a reading's ts may be from the PLC's true serve time (the bound). */
const TOLERANCE_MS = 50;

let rig: FaultRig | undefined;
afterAll(async () => { await rig?.close(); }, 30_000);

interface Stamped {
  readonly seq: number;
  readonly clock: string | undefined;
  /** The poll's true serve time, by the PLC. */
  readonly served: number;
  readonly ts: number;
}

/** Every upstream counter reading, with the true time the PLC served its poll. */
function stamped(messages: readonly Received[], servedAt: ReadonlyMap<number, number>): Stamped[] {
  const out: Stamped[] = [];
  for (const m of dataMessages(messages)) {
    for (const r of m.payload.readings as { tag: string; value: number; ts: number }[]) {
      const served = r.tag === 'counter' ? servedAt.get(r.value) : undefined;
      if (served !== undefined) out.push({ seq: m.payload.seq, clock: m.payload.clock, served, ts: r.ts });
    }
  }
  return out;
}

/** The clock line of `floorgate status` asked about the running daemon. */
async function statusClockLine(httpPort: number): Promise<string | undefined> {
  const status = runCli(['status', '--url', `http://127.0.0.1:${httpPort}`]);
  await status.exited;
  return status.stdout.find((l) => l.startsWith('  clock'));
}

describe.skipIf(!present)('a wall clock 3 days behind and unsynchronised, then stepped and synchronised', () => {
  it('this boot\'s readings arrive corrected to within 50 ms of the true time, an earlier boot\'s stay flagged, no seq lost', async () => {
    rig = await FaultRig.start({ pollInterval: '100ms', httpPort: 0 }, { recordServed: true });
    const r = rig;
    const syncFile = path.join(r.dir, 'time-sync');
    const fakeFile = path.join(r.dir, 'faketime');
    fs.writeFileSync(syncFile, 'unsynchronised\n');
    fs.writeFileSync(fakeFile, '-3d\n');
    fs.appendFileSync(r.config, `clock:\n  sync_source: ${syncFile}\n  check_interval: 200ms\n`);
    const env = { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: fakeFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
    const start = async (): Promise<{ proc: CliProcess; httpPort: number }> => {
      const proc = runCli(['run', '-c', r.config], { env });
      const line = await proc.waitFor((_l, j) => j?.msg === 'floorgate started', 20_000);
      return { proc, httpPort: (JSON.parse(line) as { http_port: number }).http_port };
    };
    r.mqttProxy.reset();

    // The earlier boot.
    let gw = await start();
    await sleep(1000);
    expect(await gw.proc.stop('SIGTERM')).toBe(0);
    const db = new Database(r.bufferFile);
    expect(db.prepare('UPDATE boots SET boot_id = ?').run('an-earlier-boot').changes).toBe(1);
    db.close();
    const bootChange = Date.now();

    // This boot: untrusted while the broker is away.
    gw = await start();
    await sleep(1500);
    const before = await getJson(gw.httpPort, '/healthz');
    expect(before.body.clock).toMatchObject({ trusted: false, synchronized: false, steps: 0 });
    expect(metric(await getText(gw.httpPort, '/metrics'), 'floorgate_clock_synchronized')).toBe(0);
    expect(await statusClockLine(gw.httpPort)).toBe('  clock    NOT TRUSTED (not synchronised): readings go out flagged "unsynced"');

    fs.writeFileSync(fakeFile, '+0\n');
    fs.writeFileSync(syncFile, 'synchronised\n');
    await gw.proc.waitFor((_l, j) => typeof j?.msg === 'string' && j.msg.startsWith('corrected the timestamps of'), 5_000);
    const after = await getJson(gw.httpPort, '/healthz');
    expect(after.body.clock).toMatchObject({ trusted: true, synchronized: true, steps: 1 });
    expect(after.body.clock.last_step.by_ms).toBeGreaterThan(DAYS_3 - 1000);
    const metrics = await getText(gw.httpPort, '/metrics');
    expect(metric(metrics, 'floorgate_clock_synchronized')).toBe(1);
    expect(metric(metrics, 'floorgate_clock_steps_total')).toBe(1);
    expect(await statusClockLine(gw.httpPort)).toMatch(/^ {2}clock {4}trusted; 1 step, last \+3d 0h$/);

    r.mqttProxy.pass();
    // Everything buffered is through, and live readings stamped by the trusted clock follow.
    await r.sub.waitFor((ms) => {
      const data = dataMessages(ms);
      return audit(ms).missing === 0 && data.filter((m) => m.payload.clock === undefined).length >= 5;
    }, 20_000);
    expect(await gw.proc.stop('SIGTERM')).toBe(0);

    const report = audit(r.sub.messages);
    expect(report.missing).toBe(0);
    // The audit's summary counts the flagged and corrected readings as they arrived (first arrival of each seq).
    const firstArrivals = new Map<number, { clock?: string; readings: unknown[] }>();
    for (const m of dataMessages(r.sub.messages)) if (!firstArrivals.has(m.payload.seq)) firstArrivals.set(m.payload.seq, m.payload);
    const readingsFlagged = (words: readonly string[]) => [...firstArrivals.values()]
      .filter((p) => p.clock !== undefined && words.includes(p.clock)).reduce((n, p) => n + p.readings.length, 0);
    expect(report.clock).toEqual({ flagged: readingsFlagged(['unsynced', 'stepped']), corrected: readingsFlagged(['corrected']) });
    expect(report.clock.flagged).toBeGreaterThan(0);
    const seqs = [...new Set(dataMessages(r.sub.messages).map((m) => m.payload.seq as number))].sort((a, b) => a - b);
    expect(seqs[0]).toBe(1);
    expect(seqs[seqs.length - 1]).toBe(seqs.length);

    const servedAt = new Map(servedPolls(r.served).map((p) => [p.stamp, p.time]));
    const readings = stamped(r.sub.messages, servedAt);
    const earlier = readings.filter((x) => x.served < bootChange);
    const current = readings.filter((x) => x.served >= bootChange);
    expect(earlier.length).toBeGreaterThan(3);
    expect(current.filter((x) => x.clock === 'corrected').length).toBeGreaterThan(5);
    // The earlier boot's readings: flagged, and left as its clock stamped them.
    for (const x of earlier) {
      expect(x.clock).toBe('unsynced');
      expect(Math.abs(x.ts - (x.served - DAYS_3))).toBeLessThanOrEqual(TOLERANCE_MS);
    }
    // This boot's: the true time, whether corrected or stamped trusted.
    for (const x of current) {
      expect([undefined, 'corrected']).toContain(x.clock);
      expect(Math.abs(x.ts - x.served), `seq ${x.seq} (${x.clock ?? 'trusted'})`).toBeLessThanOrEqual(TOLERANCE_MS);
    }
    const worst = (xs: Stamped[]) => Math.max(...xs.map((x) => Math.abs(x.ts - x.served)));
    recordFigures('clock: untrusted, stepped, corrected', {
      earlier_boot: earlier.length, corrected: current.filter((x) => x.clock === 'corrected').length,
      trusted: current.filter((x) => x.clock === undefined).length, worst_corrected_ms: worst(current.filter((x) => x.clock === 'corrected')),
      worst_trusted_ms: worst(current.filter((x) => x.clock === undefined)), messages: report.messages,
    });
  }, 60_000);
});
