/**
 * Opening the buffer (sqlite-buffer.ts): the file opened (open-database.ts) and held to its cap
 * (budget.ts), seq continued where the data dir's seq floor says (seq-floor.ts), and a file that
 * grew above a lowered cap shrunk back under it.
 */
import type Database from 'better-sqlite3';
import type { BufferConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { planBudget, walBytesOf, RESERVE_PAGES, type Budget } from './budget.js';
import { openDatabase } from './open-database.js';
import { bootRef, edgeReader, readMeta, type Edges, type Meta } from './schema.js';
import { newEpoch, readSeqFloor, seqFloorPath, SeqFloor, type FloorState } from './seq-floor.js';
import { prepareStatements, type Statements } from './statements.js';
import { Transaction, HEAD_STEP, SCHEMA_PAGES, type Counters, type Drop } from './transaction.js';

export interface OpenStoreOptions {
  readonly file: string;
  readonly config: BufferConfig;
  readonly log: Logger;
  readonly now: () => number;
  /** Monotonic ms: paces the seq floor's committed mark. */
  readonly mono: () => number;
  /** This boot's id (src/clock/boot-id.ts), stamped on every message as a number into the boots table. */
  readonly bootId: string;
  /** Drops made at open (shrinking to the cap), once committed. */
  readonly report: (drops: readonly Drop[]) => void;
}

export interface OpenedStore {
  readonly db: Database.Database;
  readonly budget: Budget;
  readonly stmt: Statements;
  readonly readEdges: () => Edges;
  readonly floor: SeqFloor;
  /** This boot's number in the boots table. */
  readonly boot: number;
  /** meta's counters, with seq continued. */
  readonly committed: Counters;
}

export function openStore(o: OpenStoreOptions): OpenedStore {
  const { file, config, log } = o;
  planBudget(config.max_bytes); // refuse a cap too small before touching the file
  const floorFile = seqFloorPath(file);
  const floorState = readSeqFloor(floorFile);
  const db = openDatabase(file, { sync: config.sync, log, now: o.now, epoch: floorState?.epoch ?? null });
  try {
    const budget = planBudget(config.max_bytes, db.pragma('page_size', { simple: true }) as number);
    db.pragma(`max_page_count = ${budget.maxPages}`);
    // A restarted WAL is written over from its start and keeps its size, which the budget
    // bounds; this is SQLite's own backstop should the file ever be left larger.
    db.pragma(`journal_size_limit = ${walBytesOf(budget.walFrames, budget.pageSize)}`);
    // A WAL left by a crash is folded in now, so the budget starts from an empty WAL.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const boot = bootRef(db, o.bootId);
    const stmt = prepareStatements(db, budget.pageSize, boot);
    const readEdges = edgeReader(db);
    const meta = readMeta(db);
    const maxSeq = (db.prepare('SELECT max(seq) FROM messages').pluck().get() as number | null) ?? 0;
    const stream = continueStream(floorState, meta, Math.max(meta.last_seq, maxSeq));
    if (stream.lastSeq > Math.max(meta.last_seq, maxSeq)) {
      log.warn(
        { file, file_last_seq: meta.last_seq, seq_floor: stream.lastSeq, epoch: stream.epoch },
        `the buffer file is not the one written last (new, restored or from before a crash); seq continues above the seq floor, at ${stream.lastSeq + 1}`,
      );
    }
    const floor = new SeqFloor(floorFile, {
      epoch: stream.epoch,
      reserved: Math.max(floorState?.reserved ?? 0, stream.lastSeq),
      committed: stream.lastSeq,
    }, floorState !== null && floorState.reserved >= stream.lastSeq && floorState.committed === stream.lastSeq, o.mono);
    const committed = shrinkToCap({ ...o, db, budget, stmt, floor }, {
      lastSeq: stream.lastSeq,
      messages: meta.messages,
      readings: meta.readings,
      full: meta.dropped_full,
      max_age: meta.dropped_max_age,
    });
    return { db, budget, stmt, readEdges, floor, boot, committed };
  } catch (err) {
    db.close();
    throw err;
  }
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

/**
 * A cap lowered since the file grew: drop the oldest until the rows fit, then rebuild the
 * file at its new size. VACUUM needs room for a copy while it runs; this happens only once,
 * at start, and the file was above the new cap already. Returns the counters after the drops.
 */
function shrinkToCap(
  o: OpenStoreOptions & { db: Database.Database; budget: Budget; stmt: Statements; floor: SeqFloor },
  committed: Counters,
): Counters {
  const { db, budget, stmt, floor, file, config, log } = o;
  const [pages] = stmt.pageCounts.get() as [number, number];
  if (pages <= budget.maxPages) return committed;
  const dropped = committed.full;
  const target = budget.maxPages - RESERVE_PAGES - SCHEMA_PAGES - budget.txnFrames;
  for (;;) {
    const [p, free] = stmt.pageCounts.get() as [number, number];
    const head = stmt.head.all(0, HEAD_STEP) as [number, number, number][];
    if (p - free <= target || head.length === 0) break;
    const t = new Transaction({
      stmt, budget, whenFull: config.when_full, pending: [], pendingHead: 0, ackQueue: [], ackHead: 0, cutoff: 0, offsetNow: 0, keepInserted: false,
    }, committed);
    db.transaction(() => {
      t.deleteAll(head[0][0], head[head.length - 1][0], 'full');
      t.writeMeta(floor);
    })();
    committed = t.draft;
    o.report(t.drops);
  }
  log.warn(
    { file, max_bytes: config.max_bytes, dropped_readings: committed.full - dropped },
    'the buffer file is larger than buffer.max_bytes: dropped the oldest messages, compacting it',
  );
  try {
    db.pragma('temp_store = FILE'); // VACUUM's copy is as big as the data: not in memory
    db.exec('VACUUM');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } catch (err) {
    // The buffer still works inside the cap's page count; only the file stays too large.
    log.error({ err, file }, 'compacting the buffer file failed; it stays above buffer.max_bytes until it succeeds at a later start');
  } finally {
    db.pragma('temp_store = MEMORY');
    db.pragma(`max_page_count = ${budget.maxPages}`);
  }
  return committed;
}
