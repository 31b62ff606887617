/**
 * Whether the wall clock can be trusted, and what to stamp each message with (reference §4.12).
 *
 * Trusted means: the sync source says synchronised, and the wall clock is not earlier than the
 * floor (the newest reading already in the buffer that a trusted clock stamped — not a device's
 * own timestamp, not one of an untrusted clock — or the date this code was written: a gateway
 * that boots in 1970 or at fake-hwclock's last save is certainly wrong).
 *
 * Steps: offset = wall − monotonic (CLOCK_MONOTONIC is system-wide and runs on across restarts of
 * the daemon within one boot). A change of offset beyond step_threshold is a step. Each message
 * keeps the offset it was stamped with, so a reading's monotonic time is ts − offset, and once
 * the clock is trusted again ts can be recomputed: ts + (offset now − offset then).
 *
 * A poll's readings are stamped as each reply arrives and handed over together: a step in between
 * leaves some stamped by the clock before it. Those (closer to the old clock than to the new, and
 * from the last POLL_SPAN) are moved onto the new clock before the message gets its offset, so a
 * message never mixes two clocks.
 *
 * Cost: the offset is compared at every stamp (two clock reads); the sync source (a syscall or a
 * file read) at most every check_interval. A timer runs only while the clock is untrusted and no
 * reading comes in, to notice the sync all the same; a polling or trusted gateway is never woken for it.
 */
import type { Logger } from 'pino';
import type { ClockConfig } from '../config/types.js';
import type { Reading } from '../driver/contract.js';
import { ClockFlag } from './flag.js';
import { isoTime } from './iso-time.js';
import { monoMs } from './monotonic.js';
import type { SyncSource } from './sync-source.js';

/** No real clock reads earlier than this: the first release of this clock check (2026-12-01). */
export const CODE_DATE_MS = Date.UTC(2026, 11, 1);

export interface ClockStamp {
  readonly flag: ClockFlag;
  /** Wall − monotonic ms when stamped; undefined for a device's own timestamps. */
  readonly offset: number | undefined;
}

export interface StampedReadings {
  readonly stamp: ClockStamp;
  readonly readings: readonly Reading[];
}

export interface ClockStatus {
  /** The sync source's word: null when it cannot tell. */
  synchronized: boolean | null;
  trusted: boolean;
  /** Why not trusted; null when trusted. */
  reason: string | null;
  steps: number;
  /** The last step: when (wall ms, after it) and by how much (ms, negative: back). */
  last_step: { ts: number; by_ms: number } | null;
  boot_id: string;
}

export interface ClockOptions {
  readonly config: ClockConfig;
  readonly source: SyncSource;
  readonly bootId: string;
  /** Epoch ms the wall clock may not be below (the newest reading in the buffer stamped by a trusted clock). */
  readonly floor: number;
  readonly log: Logger;
  /**
   * The clock is trusted now, after it was not or after a step: correct what was stamped while
   * untrusted, with this offset.
   */
  readonly onTrusted: (offset: number) => void;
  /** Every step. */
  readonly onStep?: (byMs: number) => void;
  readonly wall?: () => number;
  readonly mono?: () => number;
}

/** Longer than any poll takes: a reading further from the step than this was not cut by it. */
const POLL_SPAN_MS = 60_000;


export class Clock {
  private readonly config: ClockConfig;
  private readonly opts: ClockOptions;
  private readonly wall: () => number;
  private readonly mono: () => number;
  private readonly floor: number;
  private synced: boolean | null = null;
  private trusted = false;
  private reason: string | null = null;
  private offset: number | null = null;
  private nextSyncCheck = 0;
  private steps = 0;
  private lastStep: ClockStatus['last_step'] = null;
  /** The latest ts stamped trusted: after a step back, readings below it are flagged stepped. */
  private highWater = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: ClockOptions) {
    this.opts = opts;
    this.config = opts.config;
    this.wall = opts.wall ?? Date.now;
    this.mono = opts.mono ?? monoMs;
    this.floor = Math.max(opts.floor, CODE_DATE_MS);
    this.check();
  }

  /**
   * A poll's readings as the messages to build of them, each with its flag and offset: those the
   * gateway's clock stamped (moved onto the current clock where a step came between), and apart
   * from them those stamped by the device's own clock (sourceTime), never flagged or corrected.
   */
  stamp(taken: readonly Reading[]): StampedReadings[] {
    // Nearly every batch is stamped by the gateway alone: it goes on as it is, not copied.
    const own = taken.some((r) => r.sourceTime) ? taken.filter((r) => !r.sourceTime) : taken;
    const out: StampedReadings[] = [];
    if (own.length > 0) out.push(this.stampOwn(own));
    if (own.length < taken.length) out.push({ stamp: { flag: ClockFlag.trusted, offset: undefined }, readings: taken.filter((r) => r.sourceTime) });
    return out;
  }

  private stampOwn(readings: readonly Reading[]): StampedReadings {
    if (!this.config.enabled) return { stamp: { flag: ClockFlag.trusted, offset: this.wall() - this.mono() }, readings };
    const wall = this.check();
    const offset = this.offset!;
    readings = this.ontoCurrentClock(readings, wall);
    if (!this.trusted) return { stamp: { flag: ClockFlag.unsynced, offset }, readings };
    if (wall < this.highWater) return { stamp: { flag: ClockFlag.stepped, offset }, readings };
    this.highWater = wall;
    return { stamp: { flag: ClockFlag.trusted, offset }, readings };
  }

  status(): ClockStatus {
    if (this.config.enabled) this.check();
    return {
      synchronized: this.synced, trusted: this.trusted || !this.config.enabled, reason: this.config.enabled ? this.reason : null,
      steps: this.steps, last_step: this.lastStep, boot_id: this.opts.bootId,
    };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Looks for a step, asks the sync source when due, and acts on a change; returns the wall time. */
  private check(): number {
    const mono = this.mono();
    const wall = this.wall();
    const offset = wall - mono;
    let stepped = false;
    if (this.offset !== null && Math.abs(offset - this.offset) > this.config.step_threshold) {
      stepped = true;
      this.step(offset - this.offset, wall);
    }
    this.offset = offset;
    if (!this.config.enabled) return wall;
    if (stepped || mono >= this.nextSyncCheck) {
      this.synced = this.opts.source();
      this.nextSyncCheck = mono + this.config.check_interval;
    }
    const reason = this.synced !== true ? (this.synced === false ? 'not synchronised' : 'synchronisation unknown')
      : wall < this.floor ? `the wall clock is before ${isoTime(this.floor)} (the newest buffered reading or this release)`
        : null;
    const trusted = reason === null;
    const was = this.trusted;
    this.trusted = trusted;
    if (reason !== this.reason || was !== trusted) this.said(trusted, reason, wall);
    this.reason = reason;
    if (trusted && (!was || stepped)) this.opts.onTrusted(offset);
    this.arm();
    return wall;
  }

  private ontoCurrentClock(readings: readonly Reading[], wall: number): readonly Reading[] {
    const step = this.lastStep;
    if (step === null || wall - step.ts > POLL_SPAN_MS) return readings;
    const before = wall - step.by_ms;
    const fromBefore = (r: Reading) => Math.abs(r.ts - before) < Math.abs(r.ts - wall) && Math.abs(r.ts - before) <= POLL_SPAN_MS;
    return readings.some(fromBefore) ? readings.map((r) => (fromBefore(r) ? { ...r, ts: r.ts + step.by_ms } : r)) : readings;
  }

  private step(byMs: number, wall: number): void {
    this.steps++;
    this.lastStep = { ts: wall, by_ms: byMs };
    this.opts.log.warn({ by_ms: byMs, steps: this.steps }, `the wall clock stepped ${byMs > 0 ? 'forward' : 'back'} by ${Math.abs(byMs)} ms`);
    this.opts.onStep?.(byMs);
  }

  private said(trusted: boolean, reason: string | null, wall: number): void {
    if (trusted) this.opts.log.info({ wall: isoTime(wall) }, 'the wall clock is trusted: readings are stamped as taken');
    else this.opts.log.warn({ reason, wall: isoTime(wall) }, `the wall clock is not trusted (${reason}): readings go out flagged "clock":"unsynced" until it is`);
  }

  /**
   * While untrusted, come back check_interval after the last look to notice the sync without
   * waiting for a reading; while readings come, they look, and the timer never fires.
   */
  private arm(): void {
    if (this.trusted) {
      this.stop();
      return;
    }
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.check();
    }, this.config.check_interval).unref();
  }
}
