/**
 * The clock's judgement (reference §4.12) on clocks the test turns: a wall and a monotonic clock
 * it sets, and a sync source it answers. What is judged is the real Clock: its stamps, its status,
 * and when it asks for buffered messages to be corrected.
 */
import { describe, expect, it } from 'vitest';
import { Clock, CODE_DATE_MS } from '../../src/clock/clock.js';
import { ClockFlag } from '../../src/clock/flag.js';
import type { ClockConfig } from '../../src/config/types.js';
import type { Reading } from '../../src/driver/contract.js';
import { captureLog } from '../helpers/log.js';

const CONFIG: ClockConfig = { enabled: true, sync_source: 'kernel', step_threshold: 1000, check_interval: 5000 };
const START = CODE_DATE_MS + 30 * 86_400_000;

function bench(opts: { synced?: boolean | null; floor?: number; config?: Partial<ClockConfig> } = {}) {
  const t = { wall: START, mono: 1_000_000, synced: opts.synced ?? false as boolean | null, asked: 0, corrections: [] as number[] };
  const log = captureLog();
  const clock = new Clock({
    config: { ...CONFIG, ...opts.config },
    source: () => { t.asked++; return t.synced; },
    bootId: 'boot-1',
    floor: opts.floor ?? 0,
    log: log.log,
    onTrusted: (offset) => t.corrections.push(offset),
    wall: () => t.wall,
    mono: () => t.mono,
  });
  /** Both clocks run on by ms. */
  const run = (ms: number) => { t.wall += ms; t.mono += ms; };
  const reading = (ts = t.wall): Reading => ({ tag: 'a', value: 1, quality: 'good', ts });
  /** One message's worth: readings of the gateway's clock only. */
  const stamp = (readings = [reading()]) => {
    const parts = clock.stamp(readings);
    expect(parts).toHaveLength(1);
    return parts[0];
  };
  clock.stop(); // the untrusted timer is not under test here: checks ride on stamps
  return { t, clock, run, stamp, reading, log };
}

describe('Clock', () => {
  it('stamps unsynced until the source says synchronised, then asks once for a correction with the offset', () => {
    const b = bench();
    expect(b.stamp().stamp).toEqual({ flag: ClockFlag.unsynced, offset: START - 1_000_000 });
    expect(b.clock.status()).toMatchObject({ synchronized: false, trusted: false, reason: 'not synchronised', boot_id: 'boot-1' });
    b.t.synced = true;
    b.run(5000);
    expect(b.stamp().stamp.flag).toBe(ClockFlag.trusted);
    expect(b.t.corrections).toEqual([START - 1_000_000]);
    b.run(5000);
    b.stamp();
    expect(b.t.corrections).toHaveLength(1);
    expect(b.log.lines().filter((l) => /the wall clock is (not )?trusted/.test(l.msg)).map((l) => l.level)).toEqual([40, 30]);
  });

  it('asks the sync source at most every check_interval', () => {
    const b = bench({ synced: true });
    const asked = b.t.asked;
    for (let i = 0; i < 49; i++) {
      b.run(100);
      b.stamp();
    }
    expect(b.t.asked - asked).toBe(0);
    b.run(100);
    b.stamp();
    expect(b.t.asked - asked).toBe(1);
  });

  it('a wall clock before the floor (the newest buffered reading) is not trusted, synchronised or not', () => {
    const b = bench({ synced: true, floor: START + 60_000 });
    expect(b.stamp().stamp.flag).toBe(ClockFlag.unsynced);
    expect(b.clock.status().reason).toMatch(/before .*newest buffered reading/);
    b.run(30_000);
    b.stamp();
    b.run(31_000);
    expect(b.stamp().stamp.flag).toBe(ClockFlag.trusted);
    // Said once per change, not at every look.
    expect(b.log.lines().filter((l) => /the wall clock is (not )?trusted/.test(l.msg)).map((l) => l.level)).toEqual([40, 30]);
  });

  it('counts a step beyond the threshold, either way, and not a drift below it', () => {
    const b = bench({ synced: true });
    b.t.wall += 900;
    b.stamp();
    expect(b.clock.status().steps).toBe(0);
    b.t.wall += 1500;
    b.stamp();
    b.t.wall -= 4000;
    b.stamp();
    expect(b.clock.status()).toMatchObject({ steps: 2, last_step: { by_ms: -4000 } });
  });

  it('after a step back, readings stamped below the latest trusted one are flagged stepped until the clock catches up', () => {
    const b = bench({ synced: true });
    b.run(10);
    expect(b.stamp().stamp.flag).toBe(ClockFlag.trusted);
    b.t.wall -= 3000;
    const afterStep = b.stamp().stamp;
    expect(afterStep.flag).toBe(ClockFlag.stepped);
    b.run(2000);
    expect(b.stamp().stamp.flag).toBe(ClockFlag.stepped);
    b.run(1100);
    expect(b.stamp().stamp.flag).toBe(ClockFlag.trusted);
  });

  it('a step while trusted asks for a correction with the new offset', () => {
    const b = bench({ synced: true });
    b.stamp();
    b.t.wall += 5000;
    b.stamp();
    expect(b.t.corrections).toEqual([START - 1_000_000, START - 1_000_000 + 5000]);
  });

  it('readings stamped before a step that came during their poll are moved onto the new clock; one from long before the poll is not', () => {
    const b = bench();
    b.stamp();
    const early = b.reading();
    b.run(30);
    b.t.wall += 259_200_000;
    const late = b.reading();
    const dayOld = b.reading(START - 86_400_000);
    const { stamp, readings } = b.stamp([early, late, dayOld]);
    expect(stamp.offset).toBe(b.t.wall - b.t.mono);
    expect(readings.map((r) => r.ts)).toEqual([early.ts + 259_200_000, late.ts, dayOld.ts]);
  });

  it('while untrusted and no reading comes, its own timer notices the sync within check_interval', async () => {
    let synced = false;
    const corrections: number[] = [];
    const clock = new Clock({
      config: { ...CONFIG, check_interval: 50 }, source: () => synced, bootId: 'b', floor: 0, log: captureLog().log,
      onTrusted: (offset) => corrections.push(offset),
    });
    try {
      synced = true;
      await new Promise((r) => setTimeout(r, 300));
      expect(corrections).toHaveLength(1);
    } finally {
      clock.stop();
    }
  });

  it('a device\'s own timestamps go in a message of their own, trusted whatever the gateway\'s clock, with no offset to correct by', () => {
    const b = bench();
    const device: Reading = { ...b.reading(START - 86_400_000), tag: 'b', sourceTime: true };
    const own = b.reading();
    expect(b.clock.stamp([own, device])).toEqual([
      { stamp: { flag: ClockFlag.unsynced, offset: START - 1_000_000 }, readings: [own] },
      { stamp: { flag: ClockFlag.trusted, offset: undefined }, readings: [device] },
    ]);
    expect(b.clock.stamp([device])).toEqual([{ stamp: { flag: ClockFlag.trusted, offset: undefined }, readings: [device] }]);
  });

  it('disabled: every message trusted, the source never asked', () => {
    const b = bench({ config: { enabled: false } });
    expect(b.stamp().stamp.flag).toBe(ClockFlag.trusted);
    expect(b.clock.status().trusted).toBe(true);
    expect(b.t.asked).toBe(0);
  });
});
