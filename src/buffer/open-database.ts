/**
 * Opens (or creates) the buffer file with the right permissions and settings, migrating an older
 * layout. A file that is not a floorgate buffer this version reads, that SQLite finds corrupt,
 * or that belongs to another seq stream, is renamed aside with
 * its -wal/-shm and a new buffer is started: losing the old backlog is better than gating all
 * new readings on a file nobody can repair at 3 a.m., and the file is kept for a post-mortem.
 * Any other failure (permissions, I/O) is thrown: the file may be fine, so it is left alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.js';
import { PAGE_SIZE } from './budget.js';
import { createSchema, fileEpoch, isBlank, layoutProblem, migrate } from './schema.js';
import { isoTime } from '../clock/iso-time.js';

export interface OpenDatabaseOptions {
  readonly sync: 'normal' | 'full';
  /**
   * The data dir's seq stream (seq-floor.ts), when it has one: a file written for another
   * stream holds seqs that may collide with this one's, so it is moved aside like a corrupt one.
   */
  readonly epoch?: string | null;
  readonly log: Logger;
  readonly now: () => number;
}

export function openDatabase(file: string, opts: OpenDatabaseOptions): Database.Database {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (fs.existsSync(file)) keepOrMoveAside(file, opts);
  // Created before SQLite opens it, so the file (and the -wal/-shm SQLite derives from its
  // mode) is never readable by others, whatever the umask.
  if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
  const db = new Database(file, { fileMustExist: true });
  try {
    configure(db, opts.sync);
    if (isBlank(db)) createSchema(db, opts.now());
    else migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Checks an existing file read-only (a file that is not ours is left exactly as it was, WAL
 * included) and moves it aside when it is not a usable buffer.
 */
function keepOrMoveAside(file: string, opts: OpenDatabaseOptions): void {
  let verdict = judge(file, opts);
  if (verdict === HOT_JOURNAL) {
    // A crash (or power cut) during the very first start, while SQLite switched the new file to
    // WAL through a rollback journal, leaves that journal hot. A read-only handle may not roll
    // it back; one read through a writable handle does, as any SQLite would, and makes the file
    // what it was before the interrupted change.
    const db = new Database(file, { fileMustExist: true });
    try {
      db.pragma('schema_version');
    } finally {
      db.close();
    }
    verdict = judge(file, opts);
  }
  if (verdict === null) return;
  const problem = verdict === HOT_JOURNAL ? 'its rollback journal could not be rolled back' : verdict;
  const aside = `${file}.corrupt-${isoTime(opts.now()).replace(/:/g, '')}`;
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, aside + suffix);
  }
  opts.log.error(
    { file, moved_to: aside, reason: problem },
    `buffer file ${file} is not a usable floorgate buffer (${problem}); moved it to ${aside} and started a new buffer`,
  );
}

const HOT_JOURNAL = Symbol('hot rollback journal');

/** Why the file is not a usable buffer, null when it is, HOT_JOURNAL when a journal must be rolled back first. */
function judge(file: string, opts: OpenDatabaseOptions): string | null | typeof HOT_JOURNAL {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return isBlank(db) ? null : layoutProblem(db) ?? integrityProblem(db) ?? streamProblem(db, opts.epoch ?? null);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_READONLY_ROLLBACK') return HOT_JOURNAL;
    if (!isCorruption(err)) throw err;
    return (err as Error).message;
  } finally {
    db?.close();
  }
}

function integrityProblem(db: Database.Database): string | null {
  const result = db.pragma('quick_check', { simple: true });
  return result === 'ok' ? null : `quick_check: ${String(result)}`;
}

function streamProblem(db: Database.Database, expected: string | null): string | null {
  const epoch = fileEpoch(db);
  return expected === null || epoch === '' || epoch === expected ? null : `it belongs to seq stream (epoch) ${epoch}, this data dir's is ${expected}`;
}

function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

function configure(db: Database.Database, sync: 'normal' | 'full'): void {
  // Only takes effect on a file with no pages yet; budgets use the file's actual page size.
  db.pragma(`page_size = ${PAGE_SIZE}`);
  db.pragma('journal_mode = WAL');
  // WAL + NORMAL: a commit is durable against a process crash (it is in the OS once written);
  // FULL also fsyncs the WAL at every commit, so it survives power loss.
  db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
  // The store checkpoints itself, at points where it knows the WAL's size (see budget.ts).
  db.pragma('wal_autocheckpoint = 0');
  // Dirty pages reach the WAL only at commit, once each: what the frame bounds assume.
  db.pragma('cache_spill = false');
  // better-sqlite3 builds SQLite with a 16 MB page cache, which an outage's backlog fills (RSS
  // +15 MB). Appends touch the right edge of the b-tree and reads and deletes the left: SQLite's
  // own default of 2 MB holds both.
  db.pragma('cache_size = -2048');
  db.pragma('temp_store = MEMORY');
  // A `floorgate buffer stats` reader holds its snapshot for milliseconds; a checkpoint waits.
  db.pragma('busy_timeout = 250');
}
