/**
 * One write transaction of a commit (sqlite-buffer.ts), drafted in memory: acks are deleted first
 * (so an acknowledged message is never counted as dropped), then the expired head, then the queue
 * is inserted, making room by when_full when full. Each step stops when the transaction's frame
 * bound (budget.ts) is spent; the next transaction carries on, and a fresh one always fits at
 * least one step. Nothing here is final: the buffer applies the draft (counters, queue and ack
 * positions, the drops to report) only once SQLite committed the transaction.
 */
import type { BufferConfig } from '../config/types.js';
import {
  addRow, deletableRowsAtMost, deleteFrames, insertFrames, insertPages, payloadBytes, RESERVE_PAGES, TXN_BASE_FRAMES,
  type Budget, type RowSum,
} from './budget.js';
import { addRange, type SeqRanges } from './drop-log.js';
import { RowInserter } from './insert-rows.js';
import { memoryBytes } from './pending.js';
import type { Statements } from './statements.js';
import type { DropReason, NewMessage, StoredMessage } from './types.js';
import { ClockFlag } from '../clock/flag.js';

/** Rows looked at per step when walking the head (expiry, making room). */
export const HEAD_STEP = 256;
/**
 * Pages the schema itself occupies (page 1; the roots of messages, meta, boots and boots' unique
 * index): never free for messages.
 */
export const SCHEMA_PAGES = 5;

/** The numbers meta holds, as committed or as drafted by the open transaction. */
export interface Counters {
  lastSeq: number;
  messages: number;
  readings: number;
  full: number;
  max_age: number;
}

export type Drop = [reason: DropReason, readings: number, messages: number, seqs: SeqRanges];

export interface TransactionInput {
  readonly stmt: Statements;
  readonly budget: Budget;
  readonly whenFull: BufferConfig['when_full'];
  /** Appended, not committed: pending[pendingHead..]. */
  readonly pending: readonly NewMessage[];
  readonly pendingHead: number;
  /** This commit's acks in seq order, ackQueue[ackHead..] still to delete. */
  readonly ackQueue: readonly number[];
  readonly ackHead: number;
  /** Messages with a ts older than this are expired. */
  readonly cutoff: number;
  /** Wall − monotonic ms now: an untrusted clock's reading of this boot is aged by the monotonic clock. */
  readonly offsetNow: number;
  /** Keep the inserted rows for a reader that is keeping up (recent.ts). */
  readonly keepInserted: boolean;
}

export class Transaction {
  /** Changed by this transaction; becomes the committed counters only if it commits. */
  readonly draft: Counters;
  framesUsed = TXN_BASE_FRAMES;
  progress = false;
  readonly drops: Drop[] = [];
  /** The rows inserted, as read() would return them, when keepInserted. */
  readonly inserted: StoredMessage[] = [];
  readonly keepInserted: boolean;
  /** The transaction's position in pending, and bytes it took off the queue. */
  cursor: number;
  consumedBytes = 0;
  ackCursor: number;
  /** The expired head is deleted. */
  ageDone = false;

  private readonly stmt: Statements;
  private readonly rows: RowInserter;
  private readonly budget: Budget;
  private readonly whenFull: BufferConfig['when_full'];
  private readonly pending: readonly NewMessage[];
  private readonly ackQueue: readonly number[];
  private readonly cutoff: number;
  private readonly offsetNow: number;

  constructor(input: TransactionInput, committed: Counters) {
    this.stmt = input.stmt;
    this.rows = new RowInserter(input.stmt);
    this.budget = input.budget;
    this.whenFull = input.whenFull;
    this.pending = input.pending;
    this.cursor = input.pendingHead;
    this.ackQueue = input.ackQueue;
    this.ackCursor = input.ackHead;
    this.cutoff = input.cutoff;
    this.offsetNow = input.offsetNow;
    this.keepInserted = input.keepInserted;
    this.draft = { ...committed };
  }

  /** Writes the draft to meta, with the seq stream's id and reservation (seq-floor.ts). */
  writeMeta(stream: { readonly epoch: string; readonly reserved: number }): void {
    const d = this.draft;
    this.stmt.writeMeta.run(d.lastSeq, d.messages, d.readings, d.full, d.max_age, stream.epoch, stream.reserved);
  }

  deleteAcked(): boolean {
    const queue = this.ackQueue;
    while (this.ackCursor < queue.length) {
      let end = this.ackCursor;
      while (end + 1 < queue.length && queue[end + 1] === queue[end] + 1) end++;
      const covered = this.deleteRange(queue[this.ackCursor], queue[end], null);
      while (this.ackCursor < queue.length && queue[this.ackCursor] <= covered) this.ackCursor++;
      if (covered < queue[end]) return false;
    }
    return true;
  }

  /** Deletes the expired head of the table. */
  expire(): boolean {
    for (;;) {
      const rows = this.stmt.head.all(this.offsetNow, HEAD_STEP) as [seq: number, ts: number, text: number][];
      let last = -1;
      while (last + 1 < rows.length && rows[last + 1][1] < this.cutoff) last++;
      if (last >= 0 && !this.deleteAll(rows[0][0], rows[last][0], 'max_age')) return false;
      if (last < HEAD_STEP - 1) break;
    }
    this.ageDone = true;
    this.progress = true;
    return true;
  }

  /** As statements.ts's head judges a stored message: by the monotonic clock while the wall clock is untrusted. */
  private expired(m: NewMessage): boolean {
    if (m.clock !== ClockFlag.unsynced) return m.ts < this.cutoff;
    return m.wallOffset !== undefined && m.ts - m.wallOffset + this.offsetNow < this.cutoff;
  }

  insertPending(): void {
    const b = this.budget;
    const chunk: RowSum = { n: 0, leafBytes: 0, maxCell: 0, overflow: 0 };
    const next: RowSum = { n: 0, leafBytes: 0, maxCell: 0, overflow: 0 };
    let room = this.room();
    while (this.cursor < this.pending.length) {
      const m = this.pending[this.cursor];
      if (this.expired(m)) {
        this.take(m);
        this.dropQueued('max_age', m.readings, 1);
        continue;
      }
      next.n = chunk.n;
      next.leafBytes = chunk.leafBytes;
      next.maxCell = chunk.maxCell;
      next.overflow = chunk.overflow;
      addRow(next, payloadBytes(textBytes(m)), b.pageSize);
      const pages = insertPages(next, b);
      if (this.framesUsed + insertFrames(pages, room.free > 0, b) > b.txnFrames) {
        if (chunk.n > 0 || this.framesUsed > TXN_BASE_FRAMES) break;
        this.take(m); // larger than a whole transaction may write: it can never be stored
        this.dropQueued('full', m.readings, 1);
        continue;
      }
      if (pages > room.avail) {
        if (chunk.n > 0) {
          // Close the chunk and measure what it really used before judging this message.
          this.framesUsed += insertFrames(insertPages(chunk, b), room.free > 0, b);
          chunk.n = chunk.leafBytes = chunk.maxCell = chunk.overflow = 0;
          room = this.room();
          continue;
        }
        if (pages > b.maxPages - RESERVE_PAGES - SCHEMA_PAGES) {
          this.take(m); // larger than the whole buffer: no policy can make it fit
          this.dropQueued('full', m.readings, 1);
          continue;
        }
        if (this.whenFull === 'drop_newest') {
          this.dropRest();
          break;
        }
        const made = this.makeRoom(pages);
        if (made === 'budget') break;
        if (made === 'empty') {
          this.take(m); // cannot happen after the size check above; never loop on it
          this.dropQueued('full', m.readings, 1);
        }
        room = this.room();
        continue;
      }
      this.rows.add(++this.draft.lastSeq, m);
      if (this.keepInserted) this.inserted.push({ seq: this.draft.lastSeq, device: m.device, tag: m.tag, body: m.body, readings: m.readings, ts: m.ts, clock: m.clock ?? 0 });
      this.draft.messages++;
      this.draft.readings += m.readings;
      this.take(m);
      chunk.n = next.n;
      chunk.leafBytes = next.leafBytes;
      chunk.maxCell = next.maxCell;
      chunk.overflow = next.overflow;
    }
    this.rows.send();
    this.framesUsed += insertFrames(insertPages(chunk, b), room.free > 0, b);
  }

  /** drop_newest, full: the message that does not fit and everything queued after it. */
  private dropRest(): void {
    let readings = 0;
    let messages = 0;
    while (this.cursor < this.pending.length) {
      const m = this.pending[this.cursor];
      this.take(m);
      readings += m.readings;
      messages++;
    }
    this.dropQueued('full', readings, messages);
  }

  private take(m: NewMessage): void {
    this.cursor++;
    this.consumedBytes += memoryBytes(m);
    this.progress = true;
  }

  /** drop_oldest: deletes from the head until `need` pages are free, or the budget is spent. */
  private makeRoom(need: number): 'room' | 'budget' | 'empty' {
    const rows: RowSum = { n: 0, leafBytes: 0, maxCell: 0, overflow: 0 };
    for (let room = this.room(); room.avail < need; room = this.room()) {
      const head = this.stmt.head.all(this.offsetNow, HEAD_STEP) as [seq: number, ts: number, text: number][];
      if (head.length === 0) return 'empty';
      rows.n = rows.leafBytes = rows.maxCell = rows.overflow = 0;
      // Enough rows that their pages, if packed full, would cover the shortfall.
      let last = 0;
      for (; last < head.length; last++) {
        addRow(rows, payloadBytes(head[last][2]), this.budget.pageSize);
        if (rows.leafBytes / (this.budget.pageSize - 8) + rows.overflow > need - room.avail + 1) break;
      }
      if (!this.deleteAll(head[0][0], head[Math.min(last, head.length - 1)][0], 'full')) return 'budget';
    }
    return 'room';
  }

  deleteAll(lo: number, hi: number, reason: DropReason | null): boolean {
    while (lo <= hi) {
      const covered = this.deleteRange(lo, hi, reason);
      if (covered < lo) return false;
      lo = covered + 1;
    }
    return true;
  }

  /**
   * Deletes seq lo..top for a top ≤ hi whose frame bound fits the transaction (halving the range
   * until it does) and returns top; lo - 1 when not even one row fits. The range is first cut to
   * as many seqs as the frames left could delete at best, so a long run of acknowledged seqs (a
   * backlog drained while no append commits) is not summed whole again by every transaction that
   * deletes a slice of it: that made a drain's deletes quadratic in its run of acks.
   */
  private deleteRange(lo: number, hi: number, reason: DropReason | null): number {
    const window = deletableRowsAtMost(this.budget.txnFrames - this.framesUsed, this.budget);
    for (let top = Math.min(hi, lo + window - 1); ;) {
      const [n, readings, leafBytes, overflow] = this.stmt.rowSum.get(lo, top) as number[];
      if (n === 0) {
        if (top === hi) return top;
        // Nothing left in this window: the next one starts above it.
        lo = top + 1;
        top = Math.min(hi, lo + window - 1);
        continue;
      }
      const frames = deleteFrames({ n, leafBytes, overflow }, this.budget);
      if (this.framesUsed + frames <= this.budget.txnFrames) {
        // A dropped range has holes (acknowledged or earlier drops): name only the rows it held.
        if (reason) this.drop(reason, readings, n, seqRanges(this.stmt.seqsIn.all(lo, top) as number[]));
        this.stmt.deleteRange.run(lo, top);
        this.framesUsed += frames;
        this.progress = true;
        this.draft.messages -= n;
        this.draft.readings -= readings;
        return top;
      }
      if (top === lo) return lo - 1;
      top = lo + Math.floor((top - lo) / 2);
    }
  }

  /** Pages that may still be used under max_page_count, and the freelist's size. */
  private room(): { avail: number; free: number } {
    this.rows.send();
    const [pages, free] = this.stmt.pageCounts.get() as [number, number];
    return { avail: this.budget.maxPages - RESERVE_PAGES - pages + free, free };
  }

  /** A drop inside the transaction: counted in the draft, reported once it commits. */
  private drop(reason: DropReason, readings: number, messages: number, seqs: SeqRanges): void {
    this.draft[reason] += readings;
    this.drops.push([reason, readings, messages, seqs]);
  }

  /**
   * Queued messages that will never be committed still consume their seqs, so a consumer sees
   * every loss as a gap in seq — the same as for a committed message dropped later.
   */
  private dropQueued(reason: DropReason, readings: number, messages: number): void {
    const first = this.draft.lastSeq + 1;
    this.draft.lastSeq += messages;
    this.drop(reason, readings, messages, [[first, this.draft.lastSeq]]);
  }
}

/** Ascending seqs as inclusive ranges. */
function seqRanges(seqs: readonly number[]): SeqRanges {
  const ranges: SeqRanges = [];
  for (const seq of seqs) addRange(ranges, [seq, seq]);
  return ranges;
}

/** Upper bound of a message's text in UTF-8 (the body measured, the short names assumed 3 bytes a char). */
function textBytes(m: NewMessage): number {
  return Buffer.byteLength(m.body) + 3 * (m.device.length + (m.tag === null ? 0 : m.tag.length));
}
