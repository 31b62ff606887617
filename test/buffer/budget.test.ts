/**
 * The disk arithmetic the hard cap rests on, checked against SQLite itself: random
 * transactions of appends and deletes (head, middle, scattered) on a database opened exactly
 * as the buffer opens it; the WAL frames each one really writes, and the pages it really adds,
 * must stay within the bounds budget.ts computes for it.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addRow, deletableRowsAtMost, deleteFrames, insertFrames, insertPages, payloadBytes, planBudget, rowSumSql,
  walBytesOf, MIN_BUFFER_BYTES, TXN_BASE_FRAMES, type RowSum,
} from '../../src/buffer/budget.js';
import { openDatabase } from '../../src/buffer/open-database.js';
import { captureLog, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

describe('planBudget', () => {
  it('splits max_bytes so the database at max_page_count plus a full WAL fit in it', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_BUFFER_BYTES, max: 2 ** 40 }), (maxBytes) => {
        const b = planBudget(maxBytes);
        expect(b.maxPages * b.pageSize + walBytesOf(b.walFrames, b.pageSize)).toBeLessThanOrEqual(maxBytes);
        expect(b.txnFrames).toBeLessThanOrEqual(b.walFrames);
        expect(b.txnFrames).toBeGreaterThanOrEqual(16);
        expect(b.maxPages).toBeGreaterThanOrEqual(40);
        // The WAL's share: at most an eighth for big caps, never more than 16 MiB.
        if (maxBytes >= 8 * MIN_BUFFER_BYTES) expect(walBytesOf(b.walFrames, b.pageSize)).toBeLessThanOrEqual(Math.min(maxBytes / 8, 16 * 2 ** 20));
      }),
    );
    expect(() => planBudget(MIN_BUFFER_BYTES - 1)).toThrow(RangeError);
  });
});

describe('deletableRowsAtMost', () => {
  it('no range of more rows fits in the frames: cutting a delete to it never keeps a fitting one out', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_BUFFER_BYTES, max: 2 ** 34 }),
        fc.constantFrom(1024, 4096), // new files, and files made before 1 KiB pages
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 300 }) }, fc.integer({ min: 0, max: 40_000 })), { minLength: 1, maxLength: 50 }),
        (maxBytes, pageSize, frames, texts) => {
          const b = planBudget(maxBytes, pageSize);
          const n = deletableRowsAtMost(frames, b) + 1;
          const rows: RowSum = { n: 0, leafBytes: 0, maxCell: 0, overflow: 0 };
          for (let i = 0; i < n; i++) addRow(rows, payloadBytes(texts[i % texts.length]), pageSize);
          expect(deleteFrames(rows, b)).toBeGreaterThan(frames);
        },
      ),
    );
  });
});

type Op =
  | { kind: 'insert'; sizes: number[] }
  | { kind: 'deleteHead'; n: number }
  | { kind: 'deleteMiddle'; at: number; n: number }
  | { kind: 'deleteScattered'; every: number; n: number };

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 400 }) },
  // Rows of a third to a half page pack worst: most of a page can stay empty.
  { weight: 3, arbitrary: fc.integer({ min: 1300, max: 2100 }) },
  { weight: 1, arbitrary: fc.integer({ min: 3900, max: 30_000 }) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  // Batches of like-sized rows (what a device produces), and mixed ones.
  { weight: 3, arbitrary: fc.tuple(size, fc.integer({ min: 1, max: 300 })).map(([s, n]) => ({ kind: 'insert' as const, sizes: Array.from({ length: n }, (_, i) => s + (i % 3)) })) },
  { weight: 1, arbitrary: fc.array(size, { minLength: 1, maxLength: 300 }).map((sizes) => ({ kind: 'insert' as const, sizes })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 400 }).map((n) => ({ kind: 'deleteHead' as const, n })) },
  { weight: 1, arbitrary: fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), n: fc.integer({ min: 1, max: 200 }) }).map((r) => ({ kind: 'deleteMiddle' as const, ...r })) },
  // Thinning pages out row by row leaves them partly empty: what a later range delete finds.
  { weight: 2, arbitrary: fc.record({ every: fc.integer({ min: 2, max: 40 }), n: fc.integer({ min: 1, max: 200 }) }).map((r) => ({ kind: 'deleteScattered' as const, ...r })) },
);

describe('frame and page bounds', () => {
  it('every transaction writes no more WAL frames, and adds no more pages, than bounded', () => {
    fc.assert(
      // One step per transaction, so one step's slack cannot hide another's excess.
      fc.property(fc.array(op.map((o) => [o]), { minLength: 10, maxLength: 60 }), (txns) => {
        const file = path.join(tempDir(), 'b.db');
        const db = openDatabase(file, { sync: 'normal', log: captureLog().log, now: Date.now });
        const b = planBudget(64 * 2 ** 20);
        const insert = db.prepare('INSERT INTO messages (seq, ts, readings, device, tag, body) VALUES (?, ?, 1, ?, NULL, ?)');
        const del = db.prepare('DELETE FROM messages WHERE seq BETWEEN ? AND ?');
        const sum = db.prepare(rowSumSql(b.pageSize)).raw();
        const seqs = db.prepare('SELECT seq FROM messages ORDER BY seq').pluck();
        const counts = db.prepare('SELECT p.page_count, f.freelist_count FROM pragma_page_count() p, pragma_freelist_count() f').raw();
        const meta = db.prepare('UPDATE meta SET last_seq = last_seq + 1 WHERE id = 1');
        let seq = 0;
        try {
          for (const ops of txns) {
            db.pragma('wal_checkpoint(TRUNCATE)');
            const [pagesBefore] = counts.get() as number[];
            let frames = TXN_BASE_FRAMES;
            let newPages = 0;
            const deleteRange = (lo: number, hi: number) => {
              const [n, , leafBytes, overflow] = sum.get(lo, hi) as number[];
              frames += deleteFrames({ n, leafBytes, overflow }, b);
              del.run(lo, hi);
            };
            db.transaction(() => {
              for (const o of ops) {
                const present = seqs.all() as number[];
                if (o.kind === 'insert') {
                  const fromFreelist = (counts.get() as number[])[1] > 0;
                  const rows: RowSum = { n: 0, leafBytes: 0, maxCell: 0, overflow: 0 };
                  for (const s of o.sizes) {
                    const body = 'é'.repeat(s % 7) + 'x'.repeat(s);
                    addRow(rows, payloadBytes(Buffer.byteLength(body) + 3 * 'press-1'.length), b.pageSize);
                    insert.run(++seq, Date.now(), 'press-1', body);
                  }
                  const pages = insertPages(rows, b);
                  newPages += pages;
                  frames += insertFrames(pages, fromFreelist, b);
                } else if (present.length > 0 && o.kind === 'deleteHead') {
                  deleteRange(present[0], present[Math.min(o.n, present.length) - 1]);
                } else if (present.length > 0 && o.kind === 'deleteMiddle') {
                  const from = Math.floor(o.at * (present.length - 1));
                  deleteRange(present[from], present[Math.min(from + o.n, present.length) - 1]);
                } else if (o.kind === 'deleteScattered') {
                  for (let i = 0; i < o.n && i * o.every < present.length; i++) deleteRange(present[i * o.every], present[i * o.every]);
                }
              }
              meta.run();
            })();
            const wal = fs.statSync(`${file}-wal`).size;
            const written = wal === 0 ? 0 : (wal - 32) / (b.pageSize + 24);
            expect(written).toBeLessThanOrEqual(frames);
            const [pagesAfter] = counts.get() as number[];
            expect(pagesAfter - pagesBefore).toBeLessThanOrEqual(newPages);
          }
        } finally {
          db.close();
        }
      }),
      { numRuns: 15 },
    );
  }, 60_000);
});
