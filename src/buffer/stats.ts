/**
 * `floorgate buffer stats`: the buffer's state read straight from its file, read-only, so it
 * works while the daemon runs (WAL mode lets a reader see the last commit without blocking the
 * writer) and when it does not.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { edgeReader, fileSizes, isBlank, layoutProblem, readMeta } from './schema.js';
import type { BufferStats } from './types.js';

export function readBufferStats(path: string): BufferStats {
  if (!fs.existsSync(path)) throw new Error(`there is no buffer file at ${path}`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    // Created but not yet initialised (the daemon was stopped in its first instants): the
    // daemon makes a buffer of it at its next start, so it reads as an empty one.
    if (isBlank(db)) {
      const sizes = fileSizes(path);
      return { messages: 0, readings: 0, bytes: sizes.db + sizes.wal, oldest_ts: null, newest_ts: null, last_seq: 0, dropped: { full: 0, max_age: 0 } };
    }
    const problem = layoutProblem(db);
    if (problem) throw new Error(`${path} is not a floorgate buffer this version can read: ${problem}`);
    // One read transaction, so the meta row and the edges come from the same commit.
    return db.transaction(() => {
      const meta = readMeta(db);
      const edges = edgeReader(db)();
      const sizes = fileSizes(path);
      return {
        messages: meta.messages,
        readings: meta.readings,
        bytes: sizes.db + sizes.wal,
        oldest_ts: edges.oldest,
        newest_ts: edges.newest,
        last_seq: meta.last_seq,
        dropped: { full: meta.dropped_full, max_age: meta.dropped_max_age },
      };
    })();
  } finally {
    db.close();
  }
}

export function formatBufferStats(stats: BufferStats, now = Date.now()): string {
  const rows: [string, string][] = [
    ['messages', count(stats.messages)],
    ['readings', count(stats.readings)],
    ['bytes on disk', `${size(stats.bytes)} (${count(stats.bytes)} bytes)`],
    ['oldest reading', moment(stats.oldest_ts, now)],
    ['newest reading', moment(stats.newest_ts, now)],
    ['last seq', String(stats.last_seq)],
    ['dropped (full)', `${count(stats.dropped.full)} readings`],
    ['dropped (max_age)', `${count(stats.dropped.max_age)} readings`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

const count = (n: number) => n.toLocaleString('en-US');

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function moment(ts: number | null, now: number): string {
  if (ts === null) return '-';
  return `${new Date(ts).toISOString()} (${age(now - ts)})`;
}

/** A duration in the two largest units, e.g. "3h 12m ago"; "in …" for a clock ahead of ours. */
function age(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  const parts: [number, string][] = [[Math.floor(s / 86_400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'm'], [s % 60, 's']];
  const first = parts.findIndex(([n]) => n > 0);
  const text = first < 0 ? '0s' : parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join(' ');
  return ms < 0 ? `in ${text}` : `${text} ago`;
}
