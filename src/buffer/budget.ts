/**
 * Disk arithmetic for the hard cap: how max_bytes is split between the database file and its
 * WAL, and upper bounds on what one transaction can add to each.
 *
 * SQLite gives a hard limit for the database file (PRAGMA max_page_count) but none for the WAL,
 * which grows by one frame (a page plus a 24-byte header) for every page a transaction dirties
 * until a checkpoint lets the next transaction start it over. So every transaction is planned
 * against an upper bound of the frames it can write, the bounds are summed since the last
 * restart of the WAL, and the WAL is restarted before a transaction that might not fit.
 * The bounds are deliberately pessimistic (leaves packed at their worst, deletes touching every
 * page at a quarter fill, freed pages rewritten); test/buffer/budget.test.ts checks them
 * against real transactions. The -shm index (32 KiB per 4096 frames) is not counted.
 */

/**
 * The page size of a new buffer file (an existing file keeps its own). Every write transaction
 * rewrites page 1, the meta row's page, the right-edge leaf and a freelist page whatever it
 * carries; at a poll a second that is two transactions, and with 4096-byte pages those fixed
 * pages alone were 33 B of disk per reading at 1,000 readings/s (1.42× the payload in all,
 * 2.8× for the compact layout). 1024 makes them a quarter (1.13× and 1.54×) at the same CPU; a
 * body's overflow chain costs 4 bytes and a 24-byte frame header per 1 KiB instead of per 4 KiB.
 * (2048 gave 1.12× and 1.44×.) Appends and backlog drains measured alike within this shared
 * machine's noise once a transaction's frame cap is counted in bytes (TXN_MAX_BYTES).
 */
export const PAGE_SIZE = 1024;
const WAL_HEADER = 32;
/**
 * Pages one transaction may write, in bytes: as many as 1024 pages of 4 KiB, so smaller pages do
 * not cut a backlog's deletes into more, smaller transactions.
 */
const TXN_MAX_BYTES = 4 * 2 ** 20;
const FRAME_HEADER = 24;

/** Below this the WAL could not hold one transaction of reasonable size next to the data. */
export const MIN_BUFFER_BYTES = 256 * 1024;

/** Pages kept free below max_page_count, so a delete that rebalances never hits the limit. */
export const RESERVE_PAGES = 4;
/** Page 1 (schema, header counters) and the meta row's page: rewritten by every transaction. */
export const TXN_BASE_FRAMES = 2;
/** Record header plus the five integer columns of a messages row (ts, readings, boot, wall_offset, clock), at most. */
const RECORD_FIXED = 64;
/** Cell pointer, payload-size and rowid varints, overflow page number, at most. */
const CELL_FIXED = 24;

export interface Budget {
  readonly pageSize: number;
  /** PRAGMA max_page_count: the database file never exceeds maxPages × pageSize. */
  readonly maxPages: number;
  /** The WAL never exceeds walHeader + walFrames × (pageSize + 24). */
  readonly walFrames: number;
  /** Frames one transaction may write, by its bound; the WAL is restarted when less is left. */
  readonly txnFrames: number;
  /** Interior levels of the messages b-tree at most (fan-out ≥ 100). */
  readonly levels: number;
}

export function planBudget(maxBytes: number, pageSize = PAGE_SIZE): Budget {
  if (maxBytes < MIN_BUFFER_BYTES) {
    throw new RangeError(`buffer.max_bytes must be at least ${MIN_BUFFER_BYTES} bytes (256KiB), got ${maxBytes}`);
  }
  const frameBytes = pageSize + FRAME_HEADER;
  // An eighth of the cap for the WAL, between 16 frames and 16 MiB. The frame bounds are
  // pessimistic (deletes especially), so a big WAL keeps checkpoints rare; tiny caps (tests)
  // restart the WAL before every transaction.
  const walBytes = Math.min(16 * 2 ** 20, Math.max(Math.floor(maxBytes / 8), WAL_HEADER + 16 * frameBytes));
  const walFrames = Math.floor((walBytes - WAL_HEADER) / frameBytes);
  const maxPages = Math.floor((maxBytes - WAL_HEADER - walFrames * frameBytes) / pageSize);
  return {
    pageSize,
    maxPages,
    walFrames,
    txnFrames: walFrames >= 64 ? Math.min(Math.floor(TXN_MAX_BYTES / pageSize), Math.floor(walFrames / 2)) : walFrames,
    levels: Math.max(1, Math.ceil(Math.log(maxPages) / Math.log(100))),
  };
}

/** Bytes on disk for a given number of WAL frames. */
export function walBytesOf(frames: number, pageSize: number): number {
  return frames === 0 ? 0 : WAL_HEADER + frames * (pageSize + FRAME_HEADER);
}

/** Largest payload SQLite keeps on a table leaf page; the rest goes to overflow pages. */
const maxLocal = (pageSize: number) => pageSize - 35;
const minLocal = (pageSize: number) => Math.floor(((pageSize - 12) * 32) / 255) - 23;

/** Rows summarised for a bound: count, leaf-cell bytes, largest leaf cell, overflow pages. */
export interface RowSum {
  n: number;
  leafBytes: number;
  maxCell: number;
  overflow: number;
}

/** Upper bound of a row's record size; text lengths in UTF-8 bytes. */
export function payloadBytes(textBytes: number): number {
  return RECORD_FIXED + textBytes;
}

/** Adds one row of this payload to a sum (upper bounds of its cell and overflow chain). */
export function addRow(sum: RowSum, payload: number, pageSize: number): void {
  const local = maxLocal(pageSize);
  const cell = Math.min(payload, local) + CELL_FIXED;
  sum.n += 1;
  sum.leafBytes += cell;
  if (cell > sum.maxCell) sum.maxCell = cell;
  if (payload > local) sum.overflow += Math.ceil((payload - minLocal(pageSize)) / (pageSize - 4));
}

/** A stored row's text columns in UTF-8 bytes (octet_length reads the record header only). */
export const TEXT_BYTES_SQL = 'octet_length(device) + ifnull(octet_length(tag), 0) + octet_length(body)';

/**
 * The same bounds computed by SQLite over stored rows (seq BETWEEN ? AND ?): count, readings,
 * leaf bytes, overflow pages.
 */
export function rowSumSql(pageSize: number): string {
  const local = maxLocal(pageSize);
  const p = `${RECORD_FIXED} + ${TEXT_BYTES_SQL}`;
  return `SELECT count(*), total(readings), total(min(p, ${local}) + ${CELL_FIXED}),
    total(CASE WHEN p > ${local} THEN (p - ${minLocal(pageSize)} + ${pageSize - 5}) / ${pageSize - 4} ELSE 0 END)
    FROM (SELECT readings, ${p} AS p FROM messages WHERE seq BETWEEN ? AND ?)`;
}

const trunkFrames = (freed: number, pageSize: number) => Math.ceil(freed / (pageSize / 4 - 2)) + 1;

/**
 * Appending rows at the right edge of the table: new pages needed, for the max_page_count
 * check. Leaves are filled in order and a new one starts only when the next cell does not
 * fit, so every leaf but the last holds more than (page − largest cell) and two neighbours
 * more than a page: whichever bound is smaller, never more leaves than rows (plus the
 * current last leaf).
 */
export function insertPages(rows: RowSum, b: Budget): number {
  if (rows.n === 0) return 0;
  const usable = b.pageSize - 8;
  const packed = rows.maxCell < usable / 2 ? Math.ceil(rows.leafBytes / (usable - rows.maxCell)) : Infinity;
  const leaves = Math.min(rows.n, Math.ceil((2 * rows.leafBytes) / usable), packed) + 1;
  return leaves + rows.overflow + Math.ceil(leaves / 100) + b.levels;
}

/**
 * Frames an append of that many new pages writes: the pages, the right-edge path of interior
 * pages, and the freelist trunk pages rewritten when pages are taken from the freelist.
 */
export function insertFrames(pages: number, fromFreelist: boolean, b: Budget): number {
  if (pages === 0) return 0;
  return pages + b.levels + (fromFreelist ? trunkFrames(pages, b.pageSize) : 0);
}

/**
 * Rows that deleteFrames could allow within `frames`, at most: every cell is at least
 * RECORD_FIXED + CELL_FIXED bytes, and the leaves counted are min(rows, 4 × bytes / page).
 */
export function deletableRowsAtMost(frames: number, b: Budget): number {
  const leavesPerRow = Math.min(1, (4 * (RECORD_FIXED + CELL_FIXED)) / (b.pageSize - 8));
  return Math.max(1, Math.floor(frames / leavesPerRow));
}

/**
 * Deleting a seq range: frames written. Leaves touched are bounded by the row count, and by
 * the bytes at a quarter fill (SQLite rebalances pages that fall below a third); two siblings
 * at the ends may be rebalanced; interior pages on both edges; freed pages go to freelist
 * trunks. Freed overflow pages are not rewritten, only listed.
 */
export function deleteFrames(rows: Omit<RowSum, 'maxCell'>, b: Budget): number {
  if (rows.n === 0) return 0;
  const leaves = Math.min(rows.n, Math.ceil((4 * rows.leafBytes) / (b.pageSize - 8)) + 2) + 2;
  return leaves + 2 * b.levels + trunkFrames(leaves + rows.overflow, b.pageSize);
}
