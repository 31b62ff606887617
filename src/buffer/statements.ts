/** The buffer's prepared statements: every query the daemon's store runs on the messages table and meta. */
import type Database from 'better-sqlite3';
import { rowSumSql, TEXT_BYTES_SQL } from './budget.js';
import { ClockFlag } from '../clock/flag.js';
import { INSERT_BLOCK } from './insert-rows.js';

const INSERT = 'INSERT INTO messages (seq, ts, readings, device, tag, body, boot, wall_offset, clock)';
/** The ts of a message max_age never removes. */
const NEVER_EXPIRES = Number.MAX_SAFE_INTEGER;

export type Statements = ReturnType<typeof prepareStatements>;

/** boot: this boot's number in the boots table (schema.ts bootRef), stamped on every insert. */
export function prepareStatements(db: Database.Database, pageSize: number, boot: number) {
  const row = `(?, ?, ?, ?, ?, ?, ${boot}, ?, ?)`;
  return {
    insert: db.prepare(`${INSERT} VALUES ${row}`),
    insertBlock: db.prepare(`${INSERT} VALUES ${Array(INSERT_BLOCK).fill(row).join(', ')}`),
    read: db.prepare('SELECT seq, device, tag, body, readings, ts, clock FROM messages WHERE seq > ? ORDER BY seq LIMIT ?'),
    deleteRange: db.prepare('DELETE FROM messages WHERE seq BETWEEN ? AND ?'),
    seqsIn: db.prepare('SELECT seq FROM messages WHERE seq BETWEEN ? AND ? ORDER BY seq').pluck(),
    writeReserved: db.prepare('UPDATE meta SET reserved = ? WHERE id = 1'),
    rowSum: db.prepare(rowSumSql(pageSize)).raw(),
    // The ts max_age judges, given the wall − monotonic offset now: an untrusted clock's reading
    // of this boot is as old as the monotonic clock says (ts − its offset + the offset now); one
    // of an earlier boot has no known age and never expires.
    head: db.prepare(`SELECT seq, CASE WHEN clock <> ${ClockFlag.unsynced} THEN ts
        WHEN boot = ${boot} AND wall_offset IS NOT NULL THEN ts - wall_offset + ? ELSE ${NEVER_EXPIRES} END,
      ${TEXT_BYTES_SQL} FROM messages ORDER BY seq LIMIT ?`).raw(),
    pageCounts: db.prepare('SELECT p.page_count, f.freelist_count FROM pragma_page_count() p, pragma_freelist_count() f').raw(),
    writeMeta: db.prepare('UPDATE meta SET last_seq = ?, messages = ?, readings = ?, dropped_full = ?, dropped_max_age = ?, epoch = ?, reserved = ? WHERE id = 1'),
  };
}
