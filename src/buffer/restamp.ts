/**
 * Recomputing the ts of buffered messages once the clock can be trusted (MessageStore.restamp,
 * reference §4.12). A message keeps the wall − monotonic offset it was stamped with; shifting its
 * readings by (offset now − offset then) gives ts = wall_now − (mono_now − mono_at_read), the
 * time the reading was taken by the clock as it now stands. Only messages of this boot: the
 * monotonic clock of another boot is a different clock.
 *
 * The body is rewritten by its `"ts":N` members. They are found without parsing: the body is
 * encode.ts's JSON, where a quote inside a string (a tag name, a value) is always escaped, so an
 * unescaped `"ts":` is the member's name and nothing else.
 *
 * Each chunk of rows is one transaction planned against the WAL budget like any other
 * (budget.ts): the rows' pages rewritten, bounded as if deleted and inserted again. The buffer runs
 * one chunk per turn of the event loop: a backlog of 100,000 messages takes about 2 s here, which
 * would otherwise hold polls and the broker link for that long (longer on a Pi).
 */
import type Database from 'better-sqlite3';
import { deleteFrames, insertFrames, insertPages, type Budget } from './budget.js';
import type { Statements } from './statements.js';
import type { NewMessage } from './types.js';
import { ClockFlag } from '../clock/flag.js';

const TS_MEMBER = /"ts":(-?\d+)/g;

/** The body with every reading's ts moved by delta ms. */
export function shiftBodyTs(body: string, delta: number): string {
  return body.replace(TS_MEMBER, (_, ts: string) => '"ts":' + (Number(ts) + delta));
}

/** A queued message as restamped: ts and body shifted, flag and offset replaced. */
export function restamped(m: NewMessage, offset: number, to: number): NewMessage {
  const delta = offset - (m.wallOffset ?? offset);
  return { ...m, ts: m.ts + delta, body: shiftBodyTs(m.body, delta), wallOffset: offset, clock: to };
}

/** Flagged rows looked at per transaction (fewer when their pages would not fit its bound). */
const CHUNK = 256;

export class StoredRestamp {
  private readonly flagged: Database.Statement;
  private readonly update: Database.Statement;
  private readonly newestTrusted: Database.Statement;

  constructor(private readonly db: Database.Database, boot: number, private readonly stmt: Statements, private readonly budget: Budget) {
    db.function('floorgate_shift_ts', { deterministic: true }, (body, delta) => shiftBodyTs(body as string, delta as number));
    // Walks seq upwards from `after`: the rowid order, no index needed.
    this.flagged = db.prepare(`SELECT seq FROM messages WHERE seq > ? AND boot = ${boot} AND clock = ? ORDER BY seq LIMIT ?`).pluck();
    this.update = db.prepare(`UPDATE messages SET ts = ts + (@offset - wall_offset), body = floorgate_shift_ts(body, @offset - wall_offset),
      wall_offset = @offset, clock = @to WHERE seq BETWEEN @lo AND @hi AND boot = ${boot} AND clock = @from AND wall_offset IS NOT NULL`);
    // Backwards from the newest row: usually the first one answers.
    this.newestTrusted = db.prepare(`SELECT ts FROM messages WHERE wall_offset IS NOT NULL AND clock IN (${ClockFlag.trusted}, ${ClockFlag.corrected})
      ORDER BY seq DESC LIMIT 1`).pluck();
  }

  /** The ts of the newest message the gateway's clock stamped while trusted (or corrected since), null when none. */
  newestTrustedTs(): number | null {
    return (this.newestTrusted.get() as number | undefined) ?? null;
  }

  /**
   * Restamps the next flagged rows after seq `after` in one transaction bounded like any other:
   * beforeTxn(frames) makes room in the WAL for at most that many frames and counts them. Returns
   * how many rows changed and the seq to go on after, or null when none is left.
   */
  chunk(after: number, offset: number, from: number, to: number, beforeTxn: (frames: number) => void): { changed: number; after: number } | null {
    const seqs = this.flagged.all(after, from, CHUNK) as number[];
    if (seqs.length === 0) return null;
    let last = seqs.length - 1;
    let frames = this.framesOf(seqs[0], seqs[last]);
    while (frames > this.budget.txnFrames && last > 0) {
      last = Math.floor(last / 2);
      frames = this.framesOf(seqs[0], seqs[last]);
    }
    beforeTxn(frames);
    const changed = this.db.transaction(() => this.update.run({ offset, to, lo: seqs[0], hi: seqs[last], from }).changes)();
    return { changed, after: seqs[last] };
  }

  /** Upper bound of the frames rewriting seq lo..hi writes: every row deleted and inserted again. */
  private framesOf(lo: number, hi: number): number {
    const [n, , leafBytes, overflow] = this.stmt.rowSum.get(lo, hi) as number[];
    const pages = insertPages({ n, leafBytes, overflow, maxCell: Math.min(leafBytes, this.budget.pageSize) }, this.budget);
    return deleteFrames({ n, leafBytes, overflow }, this.budget) + insertFrames(pages, true, this.budget);
  }
}
