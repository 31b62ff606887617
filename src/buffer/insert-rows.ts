/**
 * Inserts a transaction's messages rows a block at a time: one multi-row INSERT per
 * INSERT_BLOCK rows instead of a statement run per row, whose binding and stepping cost about
 * as much as SQLite's own work for a small row. Rows still held here are not in the table yet:
 * send() them before anything in the same transaction reads or deletes (transaction.ts does it
 * before measuring the file's pages and at the end of its inserts).
 */
import type { Statements } from './statements.js';
import type { NewMessage } from './types.js';

/** Rows per multi-row INSERT: past ~32 the gain flattens, and SQLite's bind limit is far off. */
export const INSERT_BLOCK = 32;
/** Bound parameters per row (boot is part of the statement). */
const PARAMS = 8;

export class RowInserter {
  private readonly params: unknown[] = new Array(INSERT_BLOCK * PARAMS);
  private held = 0;

  constructor(private readonly stmt: Statements) {}

  add(seq: number, m: NewMessage): void {
    const p = this.params;
    const at = this.held * PARAMS;
    p[at] = seq;
    p[at + 1] = m.ts;
    p[at + 2] = m.readings;
    p[at + 3] = m.device;
    p[at + 4] = m.tag;
    p[at + 5] = m.body;
    p[at + 6] = m.wallOffset ?? null;
    p[at + 7] = m.clock ?? 0;
    if (++this.held === INSERT_BLOCK) {
      this.stmt.insertBlock.run(p);
      this.held = 0;
    }
  }

  /** Inserts the rows held, one by one (fewer than a block). */
  send(): void {
    const p = this.params;
    for (let i = 0; i < this.held; i++) this.stmt.insert.run(...p.slice(i * PARAMS, (i + 1) * PARAMS));
    this.held = 0;
  }
}
