/**
 * The store-and-forward buffer: a durable FIFO of messages in one SQLite file.
 *
 * On disk (better-sqlite3, WAL mode, page size 4096, application_id "FLGB"):
 *   messages(seq INTEGER PRIMARY KEY, ts, readings, device, tag, body) — seq is the rowid, so
 *     appends go to the right edge of a single b-tree and reads/deletes walk it in seq order;
 *     there is no other index.
 *   meta(one row): schema_version, created, last_seq, messages, readings, dropped_full,
 *     dropped_max_age, epoch, reserved — rewritten in every transaction, so `floorgate buffer
 *     stats` reads the depth and drop counters without counting rows.
 *   {data_dir}/seq-floor beside it: the seq stream's id and a durable reservation of seqs
 *     (seq-floor.ts), so seq goes on above every seq ever used even when this file is replaced.
 *
 * Invariants:
 *   - A seq is assigned only inside the transaction that commits the message: +1 per message in
 *     commit order, starting at meta.last_seq + 1. last_seq is written in that same
 *     transaction, so a seq is never reused — not after every row was deleted, not after a crash.
 *     A queued message dropped before it could be committed (drop_newest, too old, too large)
 *     still consumes its seq: every loss, whatever the policy, is a gap a consumer can see.
 *   - Before a transaction could assign a seq above the seq floor's reservation, the new
 *     reservation is committed to meta.reserved and then written durably to the floor; a file
 *     whose meta.reserved is below the floor at open (moved aside, deleted, an old copy)
 *     continues above the floor.
 *   - Only committed messages are handed out by read(). A message is deleted only after ack()
 *     (in the next commit transaction), or by a drop.
 *   - Every dropped reading is counted (meta, onDrop) and logged: max_age for messages whose ts
 *     is older than buffer.max_age, full for messages that did not fit under max_bytes.
 *   - The database file plus its WAL never exceed max_bytes: max_page_count caps the file, and
 *     every transaction is planned against an upper bound of the WAL frames it writes
 *     (budget.ts); the bounds are summed, and a RESTART checkpoint first makes the next
 *     transaction write the WAL from its start whenever the sum could pass the WAL's share.
 *     (RESTART rather than TRUNCATE: writing over the file is much cheaper than regrowing it.)
 *   - Appends wait in memory at most commit_interval; flush() commits at once. A commit is one
 *     or more transactions (each bounded by the WAL budget): acks are deleted first, then
 *     expired messages, then the queue is inserted, making room by policy when full.
 *
 * sync: normal (synchronous=NORMAL): a commit is written to the WAL but not fsynced; it
 * survives a crash of the process (kill -9), not a power cut. sync: full (synchronous=FULL):
 * every commit fsyncs the WAL; it survives power loss too.
 *
 * max_age is judged in seq order from the oldest message: expired messages are deleted from
 * the head until the first one that has not expired. A message committed behind a newer one
 * (a device with a slow clock) therefore goes at the latest max_age after it was committed; a
 * message already older than max_age when it is committed is dropped instead of stored.
 *
 * When the file cannot be written (disk full, I/O error), appends stay in memory up to a bound
 * (then dropped by when_full, counted as full), `writable` turns false and commits are retried
 * every second. Nothing is thrown at the caller; the error is logged once per state change.
 */
import Database from 'better-sqlite3';
import type { BufferConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import {
  addRow, deleteFrames, insertFrames, insertPages, payloadBytes, planBudget, rowSumSql,
  walBytesOf, RESERVE_PAGES, TEXT_BYTES_SQL, TXN_BASE_FRAMES,
  type Budget, type RowSum,
} from './budget.js';
import { addRange, DropLog, type SeqRanges } from './drop-log.js';
import { openDatabase } from './open-database.js';
import { edgeReader, fileSizes, readMeta, type Edges, type Meta } from './schema.js';
import { newEpoch, readSeqFloor, seqFloorPath, SeqFloor, type FloorState } from './seq-floor.js';
import type { BufferStats, DropReason, MessageStore, NewMessage, StoredMessage } from './types.js';

export interface OpenBufferOptions {
  readonly path: string;
  readonly config: BufferConfig;
  readonly log: Logger;
  /** Wall clock in epoch ms; tests inject one to age messages. */
  readonly now?: () => number;
  /** Every dropped reading, once the drop is final. */
  readonly onDrop?: (reason: DropReason, readings: number) => void;
}

export function openBuffer(opts: OpenBufferOptions): MessageStore {
  return new SqliteBuffer(opts);
}

/** How often max_age is enforced, and failed commits retried. */
const AGE_CHECK_MS = 5_000;
const RETRY_MS = 1_000;
/** Rows looked at per step when walking the head (expiry, making room). */
const HEAD_STEP = 256;
/** Pages the schema itself occupies (page 1, the two table roots): never free for messages. */
const SCHEMA_PAGES = 3;

/** The numbers meta holds, as committed or as drafted by the open transaction. */
interface Counters {
  lastSeq: number;
  messages: number;
  readings: number;
  full: number;
  max_age: number;
}

type Drop = [reason: DropReason, readings: number, messages: number, seqs: SeqRanges];

class SqliteBuffer implements MessageStore {
  private readonly file: string;
  private readonly config: BufferConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly onDrop: (reason: DropReason, readings: number) => void;
  private readonly dropLog: DropLog;
  private readonly db: Database.Database;
  private readonly floor: SeqFloor;
  private readonly budget: Budget;
  private readonly stmt: ReturnType<typeof prepare>;
  private readonly readEdges: () => Edges;
  private readonly transaction: () => void;

  private committed: Counters;
  /** Changed by the running transaction; becomes `committed` only if it commits. */
  private draft: Counters;
  private framesUsed = 0;
  private progress = false;
  private readonly drops: Drop[] = [];
  /** Upper bound of the frames written to the WAL since it last restarted. */
  private walFrames = 0;

  /** Appended, not committed: pending[pendingHead..]. */
  private pending: NewMessage[] = [];
  private pendingHead = 0;
  private pendingBytes = 0;
  /** The transaction's position in pending, and bytes it took off the queue. */
  private cursor = 0;
  private consumedBytes = 0;
  private readonly pendingLimit: number;
  private readonly syncCommitBytes: number;

  /** Acknowledged, not yet deleted; hidden from read(). */
  private readonly acked = new Set<number>();
  /** This commit's acks in seq order, ackQueue[ackHead..] still to delete. */
  private ackQueue: number[] = [];
  private ackHead = 0;
  private ackCursor = 0;

  private cutoff = 0;
  private ageDue = false;
  private ageDone = false;
  private nextAgeCheck = 0;

  private isWritable = true;
  private commitMs: number | null = null;
  private edges: Edges = { oldest: null, newest: null };
  private edgesStale = true;
  private readonly listeners = new Set<(lastSeq: number) => void>();
  private commitTimer: NodeJS.Timeout | undefined;
  private readonly ticker: NodeJS.Timeout;
  private closed = false;

  constructor(opts: OpenBufferOptions) {
    this.file = opts.path;
    this.config = opts.config;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.onDrop = opts.onDrop ?? (() => {});
    this.dropLog = new DropLog(opts.log);
    planBudget(opts.config.max_bytes); // refuse a cap too small before touching the file
    const floorFile = seqFloorPath(this.file);
    const floorState = readSeqFloor(floorFile);
    this.db = openDatabase(this.file, { sync: opts.config.sync, log: opts.log, now: this.now, epoch: floorState?.epoch ?? null });
    try {
      this.budget = planBudget(opts.config.max_bytes, this.db.pragma('page_size', { simple: true }) as number);
      this.db.pragma(`max_page_count = ${this.budget.maxPages}`);
      // A restarted WAL is written over from its start and keeps its size, which the budget
      // bounds; this is SQLite's own backstop should the file ever be left larger.
      this.db.pragma(`journal_size_limit = ${walBytesOf(this.budget.walFrames, this.budget.pageSize)}`);
      // A WAL left by a crash is folded in now, so the budget starts from an empty WAL.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.stmt = prepare(this.db, this.budget.pageSize);
      this.readEdges = edgeReader(this.db);
      const meta = readMeta(this.db);
      const maxSeq = (this.db.prepare('SELECT max(seq) FROM messages').pluck().get() as number | null) ?? 0;
      const stream = continueStream(floorState, meta, Math.max(meta.last_seq, maxSeq));
      if (stream.lastSeq > Math.max(meta.last_seq, maxSeq)) {
        this.log.warn(
          { file: this.file, file_last_seq: meta.last_seq, seq_floor: stream.lastSeq, epoch: stream.epoch },
          `the buffer file is not the one written last (new, restored or from before a crash); seq continues above the seq floor, at ${stream.lastSeq + 1}`,
        );
      }
      this.floor = new SeqFloor(floorFile, {
        epoch: stream.epoch,
        reserved: Math.max(floorState?.reserved ?? 0, stream.lastSeq),
        committed: stream.lastSeq,
      }, floorState !== null && floorState.reserved >= stream.lastSeq && floorState.committed === stream.lastSeq);
      this.committed = {
        lastSeq: stream.lastSeq,
        messages: meta.messages,
        readings: meta.readings,
        full: meta.dropped_full,
        max_age: meta.dropped_max_age,
      };
      this.draft = { ...this.committed };
      this.transaction = this.db.transaction(() => this.transactionBody());
      this.shrinkToCap();
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.pendingLimit = Math.min(opts.config.max_bytes, 32 * 2 ** 20);
    this.syncCommitBytes = Math.min(4 * 2 ** 20, this.pendingLimit / 2);
    this.nextAgeCheck = this.now();
    this.ticker = setInterval(() => this.tick(), RETRY_MS).unref();
  }

  get writable(): boolean {
    return this.isWritable;
  }

  get epoch(): string {
    return this.floor.epoch;
  }

  get lastCommitMs(): number | null {
    return this.commitMs;
  }

  append(message: NewMessage): void {
    if (this.closed) throw new Error('the buffer is closed');
    const size = memoryBytes(message);
    if (this.isWritable && this.pendingBytes + size > this.syncCommitBytes) this.commit();
    if (this.pendingBytes + size > this.pendingLimit) {
      // Commits are failing and memory is the only place left: when_full decides who goes.
      if (this.config.when_full === 'drop_newest') {
        this.dropNow('full', message.readings, 1);
        return;
      }
      let readings = 0;
      let messages = 0;
      while (this.pendingHead < this.pending.length && this.pendingBytes + size > this.pendingLimit) {
        const old = this.pending[this.pendingHead++];
        this.pendingBytes -= memoryBytes(old);
        readings += old.readings;
        messages++;
      }
      if (messages > 0) this.dropNow('full', readings, messages);
    }
    this.pending.push(message);
    this.pendingBytes += size;
    this.schedule();
  }

  flush(): void {
    if (this.closed) throw new Error('the buffer is closed');
    this.commit();
  }

  read(after: number, limit: number): StoredMessage[] {
    if (limit <= 0) return [];
    if (this.acked.size === 0) return this.stmt.read.all(after, limit) as StoredMessage[];
    const out: StoredMessage[] = [];
    for (let from = after; ;) {
      const want = limit - out.length;
      const rows = this.stmt.read.all(from, want) as StoredMessage[];
      for (const row of rows) if (!this.acked.has(row.seq)) out.push(row);
      if (rows.length < want || out.length >= limit) return out;
      from = rows[rows.length - 1].seq;
    }
  }

  ack(seq: number): void {
    // A seq not yet assigned must not be remembered: it would hide a future message.
    if (this.closed || !Number.isInteger(seq) || seq < 1 || seq > this.committed.lastSeq) return;
    this.acked.add(seq);
    this.schedule();
  }

  onCommit(listener: (lastSeq: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Counters as committed: an acknowledged message counts until the next commit deletes it. */
  stats(): BufferStats {
    if (this.edgesStale && !this.closed) {
      this.edges = this.readEdges();
      this.edgesStale = false;
    }
    const sizes = fileSizes(this.file);
    const c = this.committed;
    return {
      messages: c.messages,
      readings: c.readings,
      bytes: sizes.db + sizes.wal,
      oldest_ts: this.edges.oldest,
      newest_ts: this.edges.newest,
      last_seq: c.lastSeq,
      dropped: { full: c.full, max_age: c.max_age },
    };
  }

  close(): void {
    if (this.closed) return;
    clearTimeout(this.commitTimer);
    clearInterval(this.ticker);
    this.commit();
    const lost = this.pending.slice(this.pendingHead);
    if (lost.length > 0) {
      const readings = lost.reduce((sum, m) => sum + m.readings, 0);
      this.log.error({ messages: lost.length, readings }, `closing with ${readings} readings that could not be committed; they are lost`);
      this.dropNow('full', readings, lost.length);
    }
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      this.log.warn({ err }, 'final checkpoint failed; the WAL is folded in at the next start');
    }
    // Exact at a clean stop, so an older copy put in this file's place is recognised at start.
    this.markCommitted(true);
    this.db.close();
    this.closed = true;
    this.dropLog.flush();
  }

  private schedule(): void {
    if (this.commitTimer || !this.isWritable) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      this.commit();
    }, this.config.commit_interval).unref();
  }

  /** Retries failed commits and enforces max_age while nothing else commits. */
  private tick(): void {
    if (!this.isWritable || this.now() >= this.nextAgeCheck) this.commit();
  }

  /** One commit: as many bounded transactions as the queued work needs. */
  private commit(): void {
    if (this.closed) return;
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const started = performance.now();
    const now = this.now();
    const lastSeq = this.committed.lastSeq;
    this.cutoff = now - this.config.max_age;
    if (now >= this.nextAgeCheck) {
      // Looking at the oldest message is enough to know whether anything expired; an idle
      // buffer then writes nothing.
      const [head] = this.stmt.head.all(1) as [seq: number, ts: number, text: number][];
      if (head && head[1] < this.cutoff) this.ageDue = true;
      else this.nextAgeCheck = now + AGE_CHECK_MS;
    }
    this.ackQueue = this.acked.size > 0 ? [...this.acked].sort((a, b) => a - b) : [];
    this.ackHead = 0;
    try {
      // While the file cannot be written, a retry writes (the meta row at least) even with
      // nothing queued: only a write that succeeds says the buffer is writable again.
      for (let wrote = false; this.hasWork() || (!this.isWritable && !wrote); wrote = true) {
        // Every seq this transaction might assign (inserts and queued drops) is reserved first.
        const reservation = this.floor.reservationFor(this.committed.lastSeq + this.pending.length - this.pendingHead);
        this.makeWalRoom(reservation === null ? 0 : TXN_BASE_FRAMES);
        if (reservation !== null) this.reserve(reservation);
        this.startDraft();
        this.transaction();
        this.applyDraft(now);
        this.walFrames += this.framesUsed;
        this.setWritable(true);
        // Each transaction takes at least one step (see transactionBody); this only guards
        // against looping on a bug.
        if (!this.progress) break;
      }
    } catch (err) {
      this.setWritable(false, err);
    }
    this.compactPending();
    this.markCommitted(false);
    this.commitMs = performance.now() - started;
    if (this.committed.lastSeq > lastSeq) {
      for (const listener of this.listeners) {
        try {
          listener(this.committed.lastSeq);
        } catch (err) {
          this.log.error({ err }, 'a commit listener failed');
        }
      }
    }
  }

  /**
   * A new reservation goes into this file first, then into the seq floor: a crash between the
   * two leaves a file ahead of the floor, which is trusted at the next open (no seq above the old
   * reservation was assigned yet). The other order would leave the floor ahead of the file,
   * which reads as a stale copy and makes seq jump a block at a mere kill -9.
   */
  private reserve(reservation: number): void {
    this.stmt.writeReserved.run(reservation);
    this.walFrames += TXN_BASE_FRAMES;
    this.floor.reserve(reservation);
  }

  /** Tells the seq floor how far the file is committed (seq-floor.ts); a failure only delays it. */
  private markCommitted(now: boolean): void {
    if (!this.isWritable) return;
    try {
      this.floor.mark(this.committed.lastSeq, now);
    } catch (err) {
      this.log.warn({ err }, `cannot update the seq floor: ${(err as Error).message}`);
    }
  }

  private hasWork(): boolean {
    return this.pendingHead < this.pending.length || this.ackHead < this.ackQueue.length || this.ageDue;
  }

  /** Restarts the WAL when the next transaction might not fit in what is left of its share. */
  private makeWalRoom(extraFrames: number): void {
    if (this.walFrames + extraFrames + this.budget.txnFrames <= this.budget.walFrames) return;
    const [result] = this.db.pragma('wal_checkpoint(RESTART)') as { busy: number }[];
    if (result.busy !== 0) throw new Error('cannot checkpoint the WAL: a reader holds it');
    this.walFrames = 0;
  }

  private startDraft(): void {
    this.draft = { ...this.committed };
    this.framesUsed = TXN_BASE_FRAMES;
    this.progress = false;
    this.drops.length = 0;
    this.cursor = this.pendingHead;
    this.consumedBytes = 0;
    this.ackCursor = this.ackHead;
    this.ageDone = false;
  }

  /** The transaction committed: its draft becomes the truth. */
  private applyDraft(now: number): void {
    this.committed = this.draft;
    this.pendingHead = this.cursor;
    this.pendingBytes -= this.consumedBytes;
    for (; this.ackHead < this.ackCursor; this.ackHead++) this.acked.delete(this.ackQueue[this.ackHead]);
    if (this.ageDone) {
      this.ageDue = false;
      this.nextAgeCheck = now + AGE_CHECK_MS;
    }
    for (const [reason, readings, messages, seqs] of this.drops) this.reportDrop(reason, readings, messages, seqs);
    this.edgesStale = true;
  }

  /**
   * Acks first (so an acknowledged message is never counted as dropped), then expiry, then the
   * queue. Each step stops when the transaction's frame budget is spent; the next
   * transaction carries on. A fresh transaction always fits at least one step.
   */
  private transactionBody(): void {
    if (this.deleteAcked() && (!this.ageDue || this.expire())) this.insertPending();
    this.writeMeta();
  }

  private writeMeta(): void {
    const d = this.draft;
    this.stmt.writeMeta.run(d.lastSeq, d.messages, d.readings, d.full, d.max_age, this.floor.epoch, this.floor.reserved);
  }

  private deleteAcked(): boolean {
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
  private expire(): boolean {
    for (;;) {
      const rows = this.stmt.head.all(HEAD_STEP) as [seq: number, ts: number, text: number][];
      let last = -1;
      while (last + 1 < rows.length && rows[last + 1][1] < this.cutoff) last++;
      if (last >= 0 && !this.deleteAll(rows[0][0], rows[last][0], 'max_age')) return false;
      if (last < HEAD_STEP - 1) break;
    }
    this.ageDone = true;
    this.progress = true;
    return true;
  }

  private insertPending(): void {
    const b = this.budget;
    const chunk: RowSum = { n: 0, leafBytes: 0, maxCell: 0, overflow: 0 };
    const next: RowSum = { n: 0, leafBytes: 0, maxCell: 0, overflow: 0 };
    let room = this.room();
    while (this.cursor < this.pending.length) {
      const m = this.pending[this.cursor];
      if (m.ts < this.cutoff) {
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
        if (this.config.when_full === 'drop_newest') {
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
      this.stmt.insert.run(++this.draft.lastSeq, m.ts, m.readings, m.device, m.tag, m.body);
      this.draft.messages++;
      this.draft.readings += m.readings;
      this.take(m);
      chunk.n = next.n;
      chunk.leafBytes = next.leafBytes;
      chunk.maxCell = next.maxCell;
      chunk.overflow = next.overflow;
    }
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
      const head = this.stmt.head.all(HEAD_STEP) as [seq: number, ts: number, text: number][];
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

  private deleteAll(lo: number, hi: number, reason: DropReason | null): boolean {
    while (lo <= hi) {
      const covered = this.deleteRange(lo, hi, reason);
      if (covered < lo) return false;
      lo = covered + 1;
    }
    return true;
  }

  /**
   * Deletes seq lo..top for the largest top ≤ hi whose frame bound fits the transaction
   * (halving the range until it does) and returns top; lo - 1 when not even one row fits.
   */
  private deleteRange(lo: number, hi: number, reason: DropReason | null): number {
    for (let top = hi; ;) {
      const [n, readings, leafBytes, overflow] = this.stmt.rowSum.get(lo, top) as number[];
      if (n === 0) return top;
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

  /**
   * A drop of queued messages outside any transaction (memory bound, close): final at once,
   * persisted with the next commit; their seqs are consumed as in dropQueued().
   */
  private dropNow(reason: DropReason, readings: number, messages: number): void {
    const first = this.committed.lastSeq + 1;
    this.committed.lastSeq += messages;
    this.committed[reason] += readings;
    this.reportDrop(reason, readings, messages, [[first, this.committed.lastSeq]]);
  }

  private reportDrop(reason: DropReason, readings: number, messages: number, seqs: SeqRanges): void {
    this.dropLog.record(reason, readings, messages, seqs);
    this.onDrop(reason, readings);
  }

  private setWritable(ok: boolean, err?: unknown): void {
    if (ok === this.isWritable) return;
    this.isWritable = ok;
    const queued = this.pending.length - this.pendingHead;
    if (ok) {
      this.log.info({ file: this.file, pending: queued }, 'the buffer can be written again');
      if (queued > 0) this.schedule();
    } else {
      this.log.error(
        { err, file: this.file, pending: queued },
        `cannot write the buffer ${this.file}: ${(err as Error).message}; keeping new readings in memory (up to ${this.pendingLimit} bytes) and retrying every ${RETRY_MS / 1000} s`,
      );
    }
  }

  private compactPending(): void {
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else if (this.pendingHead > 4096 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }

  /**
   * A cap lowered since the file grew: drop the oldest until the rows fit, then rebuild the
   * file at its new size. VACUUM needs room for a copy while it runs; this happens only once,
   * at start, and the file was above the new cap already.
   */
  private shrinkToCap(): void {
    const [pages] = this.stmt.pageCounts.get() as [number, number];
    if (pages <= this.budget.maxPages) return;
    const dropped = this.committed.full;
    const target = this.budget.maxPages - RESERVE_PAGES - SCHEMA_PAGES - this.budget.txnFrames;
    for (;;) {
      const [p, free] = this.stmt.pageCounts.get() as [number, number];
      const head = this.stmt.head.all(HEAD_STEP) as [number, number, number][];
      if (p - free <= target || head.length === 0) break;
      this.startDraft();
      this.db.transaction(() => {
        this.deleteAll(head[0][0], head[head.length - 1][0], 'full');
        this.writeMeta();
      })();
      this.applyDraft(this.now());
    }
    this.log.warn(
      { file: this.file, max_bytes: this.config.max_bytes, dropped_readings: this.committed.full - dropped },
      'the buffer file is larger than buffer.max_bytes: dropped the oldest messages, compacting it',
    );
    try {
      this.db.pragma('temp_store = FILE'); // VACUUM's copy is as big as the data: not in memory
      this.db.exec('VACUUM');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      // The buffer still works inside the cap's page count; only the file stays too large.
      this.log.error({ err, file: this.file }, 'compacting the buffer file failed; it stays above buffer.max_bytes until it succeeds at a later start');
    } finally {
      this.db.pragma('temp_store = MEMORY');
      this.db.pragma(`max_page_count = ${this.budget.maxPages}`);
    }
  }
}

function prepare(db: Database.Database, pageSize: number) {
  return {
    insert: db.prepare('INSERT INTO messages (seq, ts, readings, device, tag, body) VALUES (?, ?, ?, ?, ?, ?)'),
    read: db.prepare('SELECT seq, device, tag, body, readings, ts FROM messages WHERE seq > ? ORDER BY seq LIMIT ?'),
    deleteRange: db.prepare('DELETE FROM messages WHERE seq BETWEEN ? AND ?'),
    seqsIn: db.prepare('SELECT seq FROM messages WHERE seq BETWEEN ? AND ? ORDER BY seq').pluck(),
    writeReserved: db.prepare('UPDATE meta SET reserved = ? WHERE id = 1'),
    rowSum: db.prepare(rowSumSql(pageSize)).raw(),
    head: db.prepare(`SELECT seq, ts, ${TEXT_BYTES_SQL} FROM messages ORDER BY seq LIMIT ?`).raw(),
    pageCounts: db.prepare('SELECT p.page_count, f.freelist_count FROM pragma_page_count() p, pragma_freelist_count() f').raw(),
    writeMeta: db.prepare('UPDATE meta SET last_seq = ?, messages = ?, readings = ?, dropped_full = ?, dropped_max_age = ?, epoch = ?, reserved = ? WHERE id = 1'),
  };
}

/**
 * Where seq goes on at open (seq-floor.ts). With a floor, the file is trusted only when it
 * recorded the floor's reservation; without one (first start, an older floorgate, a floor
 * deleted by hand), the file's own reservation is the best knowledge left.
 */
function continueStream(floor: FloorState | null, meta: Meta, fileLastSeq: number): { epoch: string; lastSeq: number } {
  if (floor) {
    const writtenLast = meta.reserved >= floor.reserved && fileLastSeq >= floor.committed;
    return { epoch: floor.epoch, lastSeq: writtenLast ? fileLastSeq : Math.max(fileLastSeq, floor.reserved) };
  }
  return { epoch: meta.epoch || newEpoch(), lastSeq: Math.max(fileLastSeq, meta.reserved) };
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

/** What a queued message costs in memory, roughly: for the bound on the queue. */
function memoryBytes(m: NewMessage): number {
  return 2 * (m.body.length + m.device.length + (m.tag === null ? 0 : m.tag.length)) + 64;
}
