/**
 * Verdicts on what the broker delivered, for the suites that run several devices through the
 * real daemon: every seq the buffer ever assigned is accounted for, and a device's poll rate and
 * jitter measured from the `ts` of its readings upstream (the time the daemon read the value), so
 * the figures say what a consumer would see, not what the scheduler believes it did.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import type { CompletenessReport } from '../../src/audit/completeness.js';
import { readBufferStats } from '../../src/buffer/stats.js';
import { recordFigures, type Figures } from '../helpers/results.js';
import type { Received } from '../helpers/subscriber.js';
import { auditFromSeq1 } from '../helpers/upstream.js';
import { dataMessages, eventually, GATEWAY, type Reading } from './rig.js';

export interface UpstreamReading extends Reading {
  ts: number;
}

/** Every reading of `device`, in arrival order (a redelivered message's readings appear again). */
export function deviceReadings(messages: readonly Received[], device: string): UpstreamReading[] {
  const topic = `floorgate/${GATEWAY}/${device}`;
  return dataMessages(messages).filter((m) => m.topic === topic).flatMap((m) => m.payload.readings as UpstreamReading[]);
}

/** The distinct times at which `device` read `tag` with quality good, ascending: one per poll. */
export function goodPollTimes(messages: readonly Received[], device: string, tag: string): number[] {
  const ts = deviceReadings(messages, device).filter((r) => r.tag === tag && r.quality === 'good').map((r) => r.ts);
  return [...new Set(ts)].sort((a, b) => a - b);
}

/** Polls per second with a reading time in [from, to). */
export function ratePerSecond(times: readonly number[], from: number, to: number): number {
  return (times.filter((t) => t >= from && t < to).length * 1000) / (to - from);
}

export interface Jitter {
  /** Intervals between consecutive polls, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly intervals: number;
}

/** Intervals between consecutive poll times in [from, to). */
export function jitter(times: readonly number[], from: number, to: number): Jitter {
  const inside = times.filter((t) => t >= from && t < to);
  const gaps = inside.slice(1).map((t, i) => t - inside[i]).sort((a, b) => a - b);
  const at = (q: number) => gaps[Math.min(gaps.length - 1, Math.ceil(q * gaps.length) - 1)] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: gaps.at(-1) ?? NaN, intervals: gaps.length };
}

export const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** The seqs still waiting in the buffer file (committed, not yet acknowledged by the broker). */
function bufferedSeqs(file: string): Set<number> {
  if (!fs.existsSync(file)) return new Set();
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return new Set((db.prepare('SELECT seq FROM messages').all() as { seq: number }[]).map((r) => r.seq));
  } finally {
    db.close();
  }
}

export interface SeqVerdict {
  /** The highest seq the buffer ever assigned (persisted in the file). */
  readonly committed: number;
  /** Of 1..committed: neither delivered nor still in the buffer. */
  readonly lost: number[];
  /** Still in the buffer after the daemon stopped: not lost, the next start sends them. */
  readonly stillBuffered: number;
  readonly report: CompletenessReport;
}

/**
 * Call once the daemon has exited: every seq from 1 to the last one the buffer assigned must have
 * reached the broker or still be in the buffer file. The subscriber is given a few seconds to
 * receive what the daemon published just before it exited. The audit starts at seq 1, so a
 * message lost before the first arrival counts as missing too.
 */
async function accountForEverySeq(messages: readonly Received[], bufferFile: string): Promise<SeqVerdict> {
  const committed = readBufferStats(bufferFile).last_seq;
  const buffered = bufferedSeqs(bufferFile);
  const arrived = () => new Set(dataMessages(messages).map((m) => m.payload.seq as number));
  const lostNow = () => {
    const got = arrived();
    const lost: number[] = [];
    for (let seq = 1; seq <= committed; seq++) if (!got.has(seq) && !buffered.has(seq)) lost.push(seq);
    return lost;
  };
  // What the broker accepted just before the exit may still be on its way to the subscriber.
  await eventually(() => lostNow().length === 0, 5_000, 'every committed seq to arrive').catch(() => undefined);
  return { committed, lost: lostNow(), stillBuffered: buffered.size, report: auditFromSeq1(messages) };
}

/**
 * The closing verdict of a daemon fault suite: every seq accounted for (accountForEverySeq),
 * recorded as `{name}: seqs` with any extra figures, and required: none lost, none missing.
 */
export async function expectEverySeqAccounted(name: string, messages: readonly Received[], bufferFile: string, extra: Figures = {}): Promise<SeqVerdict> {
  const verdict = await accountForEverySeq(messages, bufferFile);
  recordFigures(`${name}: seqs`, {
    ...extra, committed: verdict.committed, lost: verdict.lost.length, still_buffered: verdict.stillBuffered,
    missing: verdict.report.missing, duplicates: verdict.report.duplicates,
  });
  expect(verdict.lost).toEqual([]);
  expect(verdict.report.missing).toBe(0);
  return verdict;
}
