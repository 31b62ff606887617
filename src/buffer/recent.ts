/**
 * The messages just committed, kept in memory so that a forwarder that is caught up reads them
 * from here instead of SELECTing back rows it handed to SQLite a moment before (the read-back was
 * ~70 B of garbage and a statement per message at 10,000 readings/s).
 *
 * The database stays the source of truth: a message enters only once its transaction committed,
 * and read() answers from here only when this holds every stored row with seq ≥ `first`
 * (anything older, a backlog, a restart, comes from SQLite). Whatever could break that empties
 * it: a drop (rows deleted by when_full or max_age), a restamp (rows rewritten). Rows deleted
 * after their ack are trimmed from the front; acknowledged rows are hidden by the caller's acked
 * set until then, as they are for rows read from SQLite.
 */
import type { StoredMessage } from './types.js';

/** Body characters kept at most: a broker outage must not grow this; older rows come from SQLite. */
const MAX_CHARS = 1 << 20;

export class RecentMessages {
  /** Every stored row with seq ≥ first is in rows[head..]. */
  private first: number;
  private rows: StoredMessage[] = [];
  private head = 0;
  private chars = 0;

  constructor(lastSeq: number) {
    this.first = lastSeq + 1;
  }

  /** Rows just committed, above every stored seq. */
  add(rows: readonly StoredMessage[]): void {
    for (const row of rows) {
      this.rows.push(row);
      this.chars += row.body.length;
    }
    while (this.chars > MAX_CHARS) this.dropFront();
    this.compact();
  }

  /** Forgets everything: rows at or below lastSeq may have changed or gone. */
  reset(lastSeq: number): void {
    this.rows = [];
    this.head = 0;
    this.chars = 0;
    this.first = lastSeq + 1;
  }

  /** Rows up to seq are deleted. */
  deleted(seq: number): void {
    while (this.head < this.rows.length && this.rows[this.head].seq <= seq) this.dropFront();
    if (this.first <= seq) this.first = seq + 1;
    this.compact();
  }

  /** Acknowledged rows at the front are never handed out again: they need not be kept. */
  acked(acked: ReadonlySet<number>): void {
    while (this.head < this.rows.length && acked.has(this.rows[this.head].seq)) this.dropFront();
    this.compact();
  }

  /** read() from memory: rows with seq > after not in acked, at most limit; null when this does not cover after. */
  read(after: number, limit: number, acked: ReadonlySet<number>): StoredMessage[] | null {
    if (after + 1 < this.first) return null;
    const out: StoredMessage[] = [];
    const rows = this.rows;
    let i = this.head;
    // Binary search for the first row above after.
    for (let hi = rows.length; i < hi;) {
      const mid = (i + hi) >>> 1;
      if (rows[mid].seq <= after) i = mid + 1;
      else hi = mid;
    }
    for (; i < rows.length && out.length < limit; i++) if (!acked.has(rows[i].seq)) out.push(rows[i]);
    return out;
  }

  private dropFront(): void {
    const row = this.rows[this.head];
    this.rows[this.head++] = undefined as unknown as StoredMessage;
    this.chars -= row.body.length;
    this.first = row.seq + 1;
  }

  private compact(): void {
    if (this.head < 1024 || this.head * 2 < this.rows.length) return;
    this.rows = this.rows.slice(this.head);
    this.head = 0;
  }
}
