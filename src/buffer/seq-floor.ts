/**
 * The seq floor: a durable reservation of seqs kept beside the buffer file, so that seq never
 * goes back (reference §4.9) even when the buffer file does — moved aside as corrupt, deleted, or
 * replaced by an old copy — or when a power cut takes the last commits of a `sync: normal` WAL.
 *
 * `{data_dir}/seq-floor` holds `{"epoch": "…", "reserved": R, "committed": C}`. Invariants:
 *   - Every seq ever assigned is ≤ R: before a transaction could assign a seq above R, a larger
 *     R is committed to the buffer's meta row and then written here durably (temp file, fsync,
 *     rename, fsync of the directory).
 *   - Every seq ≤ C had been committed to the buffer file when C was written: C is written
 *     after commits, at most every MARK_INTERVAL_MS while seq moves, and exactly at a clean stop.
 *   - So at open, the buffer file is the one written last when it recorded R and holds seqs up
 *     to C at least; then its last_seq is the truth. Otherwise — an old copy, a new file, a WAL
 *     whose last commits a power cut took, a crash between the floor write and its transaction —
 *     seq continues at R + 1. The seqs in between were never used, or were used by a file that
 *     is gone: a consumer sees a gap, never a seq reused for other content.
 *   - What cannot be told apart: a copy taken less than MARK_INTERVAL_MS of progress before a
 *     crash (not a clean stop) and restored in its place.
 *   - The epoch names the stream. It is made once, when the data dir has no floor and no
 *     buffer; wiping the data dir is the one way to lose continuity, and the new epoch says so.
 *
 * Reserving in blocks keeps the cost at one small durable write per RESERVE_BLOCK messages.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { readIfExists, writeDurably, writeWhole } from './durable-file.js';

export const SEQ_FLOOR_FILE = 'seq-floor';
/** Seqs reserved at a time: at 1,000 messages/s, one durable write every 10 s. */
export const RESERVE_BLOCK = 10_000;
/** How often, at most, the committed mark follows a moving seq. */
export const MARK_INTERVAL_MS = 10_000;

export interface FloorState {
  readonly epoch: string;
  readonly reserved: number;
  readonly committed: number;
}

/** The floor file beside a buffer file. */
export function seqFloorPath(bufferFile: string): string {
  return path.join(path.dirname(bufferFile), SEQ_FLOOR_FILE);
}

/** A new stream id: 48 random bits, short enough to carry in every message. */
export function newEpoch(): string {
  return crypto.randomBytes(6).toString('hex');
}

/** The floor as last written, or null when there is none. A damaged file is an error: it guards seq. */
export function readSeqFloor(file: string): FloorState | null {
  const text = readIfExists(file);
  if (text === null) return null;
  let state: unknown;
  try {
    state = JSON.parse(text);
  } catch {
    state = null;
  }
  const { epoch, reserved, committed } = (state ?? {}) as Partial<FloorState>;
  const count = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (typeof epoch !== 'string' || !/^[0-9a-f]{1,32}$/.test(epoch) || !count(reserved) || !count(committed) || committed > reserved) {
    throw new Error(`${file} is not a seq floor (expected {"epoch": "<hex>", "reserved": <n>, "committed": <n ≤ reserved>}); it guards against reused seqs, so floorgate will not guess: restore it, or delete it together with buffer.db to start a new stream`);
  }
  return { epoch, reserved, committed };
}

export class SeqFloor {
  private state: FloorState;
  private markedAt: number;

  /** Writes `initial` unless it is what the file already holds. `mono`: monotonic ms, which paces the mark. */
  constructor(private readonly file: string, initial: FloorState, persisted: boolean, private readonly mono: () => number) {
    this.state = initial;
    this.markedAt = mono();
    if (!persisted) this.write(initial);
  }

  get epoch(): string {
    return this.state.epoch;
  }

  get reserved(): number {
    return this.state.reserved;
  }

  /** The reservation to make so that every seq up to `highest` is covered; null when it already is. */
  reservationFor(highest: number): number | null {
    return highest <= this.state.reserved ? null : highest + RESERVE_BLOCK;
  }

  /** Raises the reservation durably (the buffer file has recorded it first). */
  reserve(reservation: number): void {
    if (reservation > this.state.reserved) this.write({ ...this.state, reserved: reservation });
  }

  /**
   * Every seq up to `lastSeq` is committed to the buffer file: recorded when MARK_INTERVAL_MS
   * has passed since the last mark, or now when `now` (a clean stop).
   */
  mark(lastSeq: number, now = false): void {
    if (lastSeq <= this.state.committed || (!now && this.mono() - this.markedAt < MARK_INTERVAL_MS)) return;
    // A mark lost to a power cut leaves the previous one, still true, so the periodic mark skips
    // the directory's fsync (half its cost on an idle gateway); a raised reservation never does.
    const raises = lastSeq > this.state.reserved;
    this.write({ ...this.state, reserved: Math.max(this.state.reserved, lastSeq), committed: lastSeq }, raises || now);
  }

  private write(next: FloorState, durable = true): void {
    (durable ? writeDurably : writeWhole)(this.file, JSON.stringify(next) + '\n');
    this.state = next;
    this.markedAt = this.mono();
  }
}
