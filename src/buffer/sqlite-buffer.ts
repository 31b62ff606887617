/**
 * The store-and-forward buffer: a durable FIFO of messages in one SQLite file.
 *
 * This file is the MessageStore and its commits (batching, seq reservations, WAL restarts,
 * writability); beside it: open-store.ts (opening: the cap, seq continued, shrinking to a lowered
 * cap), transaction.ts (what one write transaction does: acks, expiry, inserts, making room,
 * counting drops), pending.ts (the appends held in memory), recent.ts (the rows just committed,
 * which a caught-up forwarder reads without a SELECT), statements.ts (the SQL), restamp.ts
 * (correcting the ts of messages stamped by an untrusted clock). Over 400
 * lines on purpose: the design note below stays with the commits it describes.
 *
 * On disk (better-sqlite3, WAL mode, page size 1024 (budget.ts says why), application_id "FLGB"):
 *   messages(seq INTEGER PRIMARY KEY, ts, readings, device, tag, body, boot, wall_offset, clock)
 *     — the last three: the clock the readings were stamped with (restamp.ts); seq is the rowid, so
 *     appends go to the right edge of a single b-tree and reads/deletes walk it in seq order;
 *     there is no other index.
 *   boots(id, boot_id): the kernel's boot ids, numbered, for messages.boot.
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
 *     expired messages, then the queue is inserted, making room by policy when full
 *     (transaction.ts).
 *
 * sync: normal (synchronous=NORMAL): a commit is written to the WAL but not fsynced; it
 * survives a crash of the process (kill -9), not a power cut. sync: full (synchronous=FULL):
 * every commit fsyncs the WAL; it survives power loss too.
 *
 * max_age is judged in seq order from the oldest message: expired messages are deleted from
 * the head until the first one that has not expired. A message committed behind a newer one
 * (a device with a slow clock) therefore goes at the latest max_age after it was committed; a
 * message already older than max_age when it is committed is dropped instead of stored. A
 * message stamped by an untrusted clock (clock = unsynced) is aged by the monotonic clock when
 * it was taken in this boot (its ts − wall_offset is its monotonic time), so max_age holds on a
 * gateway whose clock is never trusted and a step of the wall clock neither expires nor keeps
 * it; one from an earlier boot has no known age: max_age never drops it (and the head walk
 * stops at it), max_bytes still does.
 *
 * When the file cannot be written (disk full, I/O error), appends stay in memory up to a bound
 * (then dropped by when_full, counted as full), `writable` turns false and commits are retried
 * every second. Nothing is thrown at the caller; the error is logged once per state change.
 */
import Database from 'better-sqlite3';
import type { BufferConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { TXN_BASE_FRAMES, type Budget } from './budget.js';
import { DropLog, type SeqRanges } from './drop-log.js';
import { openStore } from './open-store.js';
import { memoryBytes, PendingQueue } from './pending.js';
import { fileSizes, type Edges } from './schema.js';
import type { SeqFloor } from './seq-floor.js';
import type { Statements } from './statements.js';
import { RecentMessages } from './recent.js';
import { restamped, StoredRestamp } from './restamp.js';
import { Transaction, type Counters, type Drop } from './transaction.js';
import { readBootId } from '../clock/boot-id.js';
import { monoMs } from '../clock/monotonic.js';
import type { BufferStats, DropReason, MessageStore, NewMessage, StoredMessage } from './types.js';

export interface OpenBufferOptions {
  readonly path: string;
  readonly config: BufferConfig;
  readonly log: Logger;
  /** Wall clock in epoch ms; tests inject one to age messages. */
  readonly now?: () => number;
  /**
   * Monotonic ms (src/clock), which ages readings of an untrusted wall clock and paces the seq
   * floor's committed mark; tests inject one.
   */
  readonly mono?: () => number;
  /** Every dropped reading, once the drop is final. */
  readonly onDrop?: (reason: DropReason, readings: number) => void;
  /** This boot's id; read from the kernel when not given (tests give one to play another boot). */
  readonly bootId?: string;
}

export function openBuffer(opts: OpenBufferOptions): MessageStore {
  return new SqliteBuffer(opts);
}

/** How often max_age is enforced, and failed commits retried. */
const AGE_CHECK_MS = 5_000;
const RETRY_MS = 1_000;
/**
 * Longest an acknowledged message waits to be deleted when no append comes to commit with it.
 * A delete alone is a transaction of its own (page 1, meta, leaf, freelist), as costly on disk
 * as the readings of a small poll; riding the next poll's transaction it costs a few bytes. Two
 * seconds cover polls of up to about that interval; a crash in that time only repeats messages
 * the broker already has (at-least-once), and a clean stop deletes them.
 */
export const ACK_LINGER_MS = 2_000;
/**
 * No read() for this long: nobody is keeping up (the broker is away, a backlog is replaying from
 * older rows), so committed rows are not kept in memory (recent.ts) for a reader that would not
 * come for them; an outage then allocates nothing per row beyond the append itself.
 */
const READER_GONE_MS = 5_000;

class SqliteBuffer implements MessageStore {
  private readonly file: string;
  private readonly config: BufferConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly mono: () => number;
  private readonly onDrop: (reason: DropReason, readings: number) => void;
  private readonly dropLog: DropLog;
  private readonly db: Database.Database;
  private readonly floor: SeqFloor;
  private readonly budget: Budget;
  private readonly stmt: Statements;
  private readonly readEdges: () => Edges;
  private readonly transaction: (t: Transaction) => void;
  private readonly restamper: StoredRestamp;
  /** Counts restamp() calls, so a newer one stops an older one still running. */
  private restampRun = 0;

  private committed: Counters;
  /** Upper bound of the frames written to the WAL since it last restarted. */
  private walFrames = 0;

  private readonly pending: PendingQueue;
  /** The rows just committed, which a caught-up forwarder reads without a SELECT. */
  private readonly recent: RecentMessages;

  /** Acknowledged, not yet deleted; hidden from read(). */
  private readonly acked = new Set<number>();
  /** This commit's acks in seq order, ackQueue[ackHead..] still to delete. */
  private ackQueue: number[] = [];
  private ackHead = 0;

  private cutoff = 0;
  private offsetNow = 0;
  private ageDue = false;
  private nextAgeCheck = 0;

  private isWritable = true;
  private commitMs: number | null = null;
  private edges: Edges = { oldest: null, newest: null };
  private edgesStale = true;
  private readonly listeners = new Set<(lastSeq: number) => void>();
  private commitTimer: NodeJS.Timeout | undefined;
  /** A commit at the end of this turn of the event loop (see append). */
  private commitSoon: NodeJS.Immediate | undefined;
  /** performance.now() at which the scheduled commit runs; Infinity when none is. */
  private commitDue = Infinity;
  /** performance.now() at the start of the last commit. */
  private lastCommitAt = -Infinity;
  /** performance.now() of the last read(). */
  private lastReadAt = -Infinity;
  /** Set only when there is something to come back for (see armWake). */
  private wakeTimer: NodeJS.Timeout | undefined;
  /** wakeTimer's delay, null when it is not set. */
  private wakeDelay: number | null = null;
  private closed = false;

  constructor(opts: OpenBufferOptions) {
    this.file = opts.path;
    this.config = opts.config;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.mono = opts.mono ?? monoMs;
    this.onDrop = opts.onDrop ?? (() => {});
    this.dropLog = new DropLog(opts.log);
    const opened = openStore({
      file: this.file,
      config: this.config,
      log: this.log,
      now: this.now,
      mono: this.mono,
      report: (drops) => this.reportDrops(drops),
      bootId: opts.bootId ?? readBootId(),
    });
    this.db = opened.db;
    this.budget = opened.budget;
    this.stmt = opened.stmt;
    this.readEdges = opened.readEdges;
    this.floor = opened.floor;
    this.restamper = new StoredRestamp(this.db, opened.boot, this.stmt, this.budget);
    this.committed = opened.committed;
    this.recent = new RecentMessages(this.committed.lastSeq);
    this.transaction = this.db.transaction((t: Transaction) => this.transactionBody(t));
    this.pending = new PendingQueue(opts.config.max_bytes);
    this.nextAgeCheck = this.now();
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
    if (this.isWritable && this.pending.bytes + size > this.pending.syncCommitBytes) this.commit();
    if (this.pending.bytes + size > this.pending.limit) {
      // Commits are failing and memory is the only place left: when_full decides who goes.
      if (this.config.when_full === 'drop_newest') {
        this.dropNow('full', message.readings, 1);
        return;
      }
      const shed = this.pending.shedOldest(size);
      if (shed.messages > 0) this.dropNow('full', shed.readings, shed.messages);
    }
    this.pending.push(message, size);
    // Readings after a quiet commit_interval commit at the end of this turn of the event loop,
    // with whatever else it appends: a poll every second is committed and published in the
    // turn its reply arrived, not woken for again. Busier appends wait out commit_interval.
    const now = performance.now();
    this.schedule(now - this.lastCommitAt >= this.config.commit_interval ? 0 : this.config.commit_interval, now);
  }

  flush(): void {
    if (this.closed) throw new Error('the buffer is closed');
    this.commit();
  }

  read(after: number, limit: number): StoredMessage[] {
    this.lastReadAt = performance.now();
    if (limit <= 0) return [];
    const kept = this.recent.read(after, limit, this.acked);
    if (kept !== null) return kept;
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
    this.recent.acked(this.acked);
    this.schedule(Math.max(this.config.commit_interval, ACK_LINGER_MS));
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

  restamp(offset: number, from: number, to: number): Promise<number> {
    if (this.closed) return Promise.resolve(0);
    this.commit();
    let changed = this.pending.restamp((m) => (m.clock === from ? restamped(m, offset, to) : null));
    // A newer restamp takes over: the rows still flagged get its offset.
    const run = ++this.restampRun;
    return new Promise((resolve) => {
      let after = 0;
      const next = (): void => {
        if (this.closed || run !== this.restampRun) return resolve(changed);
        try {
          if (!this.isWritable) throw new Error('the buffer cannot be written');
          const step = this.restamper.chunk(after, offset, from, to, (frames) => {
            this.makeWalRoom(frames);
            this.walFrames += frames + TXN_BASE_FRAMES;
          });
          this.edgesStale = true;
          this.recent.reset(this.committed.lastSeq);
          if (step === null) return resolve(changed);
          changed += step.changed;
          after = step.after;
          setImmediate(next);
        } catch (err) {
          this.log.error({ err }, `correcting buffered timestamps failed: ${(err as Error).message}; the rest stay flagged`);
          resolve(changed);
        }
      };
      next();
    });
  }

  newestTrustedTs(): number | null {
    return this.restamper.newestTrustedTs();
  }

  close(): void {
    if (this.closed) return;
    this.unschedule();
    this.commit();
    clearTimeout(this.wakeTimer);
    const lost = this.pending.messages.slice(this.pending.head);
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

  /** A commit within delayMs (0: at the end of this turn), unless one is due sooner. */
  private schedule(delayMs = this.config.commit_interval, now = performance.now()): void {
    if (!this.isWritable) return;
    const due = now + delayMs;
    if (this.commitDue <= due) return;
    this.unschedule();
    this.commitDue = due;
    if (delayMs === 0) this.commitSoon = setImmediate(() => this.commit());
    else this.commitTimer = setTimeout(() => this.commit(), delayMs).unref();
  }

  private unschedule(): void {
    clearTimeout(this.commitTimer);
    clearImmediate(this.commitSoon);
    this.commitTimer = undefined;
    this.commitSoon = undefined;
    this.commitDue = Infinity;
  }

  /**
   * After each commit: comes back to retry a failed write, or to enforce max_age on messages
   * held while nothing else commits (a broker outage with the devices down). An empty, writable
   * buffer sets no timer. The age wake is a full AGE_CHECK_MS after the last commit, so while
   * polls commit (each runs the age check when it is due) it never fires: a gateway that holds
   * its just-published message is not woken a second time for it.
   */
  private armWake(): void {
    const delay = !this.isWritable ? RETRY_MS : this.committed.messages > 0 ? AGE_CHECK_MS : null;
    if (delay === this.wakeDelay) {
      // Same delay: restart the timer in place, cheaper than a new one each commit.
      this.wakeTimer?.refresh();
      return;
    }
    clearTimeout(this.wakeTimer);
    this.wakeDelay = delay;
    this.wakeTimer = delay === null ? undefined : setTimeout(() => this.commit(), delay).unref();
  }

  /** One commit: as many bounded transactions as the queued work needs. */
  private commit(): void {
    if (this.closed) return;
    this.unschedule();
    const started = performance.now();
    this.lastCommitAt = started;
    const now = this.now();
    const lastSeq = this.committed.lastSeq;
    this.cutoff = now - this.config.max_age;
    this.offsetNow = now - this.mono();
    if (now >= this.nextAgeCheck) {
      // Looking at the oldest message is enough to know whether anything expired; an idle
      // buffer then writes nothing.
      const [head] = this.stmt.head.all(this.offsetNow, 1) as [seq: number, ts: number, text: number][];
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
        const reservation = this.floor.reservationFor(this.committed.lastSeq + this.pending.length);
        this.makeWalRoom(reservation === null ? 0 : TXN_BASE_FRAMES);
        if (reservation !== null) this.reserve(reservation);
        const t = this.startDraft();
        this.transaction(t);
        this.applyDraft(t, now);
        this.walFrames += t.framesUsed;
        this.setWritable(true);
        // Each transaction takes at least one step (transaction.ts); this only guards against
        // looping on a bug.
        if (!t.progress) break;
      }
    } catch (err) {
      this.setWritable(false, err);
    }
    this.pending.compact();
    this.markCommitted(false);
    this.armWake();
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
    return this.pending.length > 0 || this.ackHead < this.ackQueue.length || this.ageDue;
  }

  /** Restarts the WAL when the next transaction might not fit in what is left of its share. */
  private makeWalRoom(extraFrames: number): void {
    if (this.walFrames + extraFrames + this.budget.txnFrames <= this.budget.walFrames) return;
    const [result] = this.db.pragma('wal_checkpoint(RESTART)') as { busy: number }[];
    if (result.busy !== 0) throw new Error('cannot checkpoint the WAL: a reader holds it');
    this.walFrames = 0;
  }

  private startDraft(): Transaction {
    return new Transaction({
      stmt: this.stmt,
      budget: this.budget,
      whenFull: this.config.when_full,
      pending: this.pending.messages,
      pendingHead: this.pending.head,
      ackQueue: this.ackQueue,
      ackHead: this.ackHead,
      cutoff: this.cutoff,
      offsetNow: this.offsetNow,
      keepInserted: this.lastCommitAt - this.lastReadAt < READER_GONE_MS,
    }, this.committed);
  }

  /** The transaction committed: its draft becomes the truth. */
  private applyDraft(t: Transaction, now: number): void {
    this.committed = t.draft;
    this.pending.taken(t.cursor, t.consumedBytes);
    if (t.drops.length > 0 || !t.keepInserted) this.recent.reset(t.draft.lastSeq);
    else {
      if (t.ackCursor > this.ackHead) this.recent.deleted(this.ackQueue[t.ackCursor - 1]);
      this.recent.add(t.inserted);
    }
    for (; this.ackHead < t.ackCursor; this.ackHead++) this.acked.delete(this.ackQueue[this.ackHead]);
    if (t.ageDone) {
      this.ageDue = false;
      this.nextAgeCheck = now + AGE_CHECK_MS;
    }
    this.reportDrops(t.drops);
    this.edgesStale = true;
  }

  /** Acks, then expiry (when due), then the queue, as far as the transaction's bound goes. */
  private transactionBody(t: Transaction): void {
    if (t.deleteAcked() && (!this.ageDue || t.expire())) t.insertPending();
    t.writeMeta(this.floor);
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

  private reportDrops(drops: readonly Drop[]): void {
    for (const [reason, readings, messages, seqs] of drops) this.reportDrop(reason, readings, messages, seqs);
  }

  private setWritable(ok: boolean, err?: unknown): void {
    if (ok === this.isWritable) return;
    this.isWritable = ok;
    const queued = this.pending.length;
    if (ok) {
      this.log.info({ file: this.file, pending: queued }, 'the buffer can be written again');
      if (queued > 0) this.schedule();
    } else {
      this.log.error(
        { err, file: this.file, pending: queued },
        `cannot write the buffer ${this.file}: ${(err as Error).message}; keeping new readings in memory (up to ${this.pending.limit} bytes) and retrying every ${RETRY_MS / 1000} s`,
      );
    }
  }
}
