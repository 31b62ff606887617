/**
 * The buffer file's schema and the queries that read its bookkeeping. Shared by the daemon's
 * store and the read-only `floorgate buffer stats`.
 */
import fs from 'node:fs';
import type Database from 'better-sqlite3';

/** PRAGMA application_id of a floorgate buffer: "FLGB". */
export const APPLICATION_ID = 0x464c4742;
/**
 * Bumped when the layout changes. Older versions are migrated at open (migrate()); a file of a
 * newer version is not read (it is moved aside like a corrupt one).
 * 2: meta.epoch and meta.reserved, the seq floor's stream id and reservation (seq-floor.ts).
 * 3: messages.boot, wall_offset and clock, and the boots table: the clock a message was stamped
 *    with (clock-correction.ts).
 */
export const SCHEMA_VERSION = 3;

/** seq is the rowid: appends go to the right edge of one b-tree and no other index is kept. */
const CREATE = `
  CREATE TABLE messages (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    device TEXT NOT NULL,
    tag TEXT,
    body TEXT NOT NULL,
    boot INTEGER,
    wall_offset INTEGER,
    clock INTEGER NOT NULL DEFAULT 0
  );
  -- One row per boot the daemon ran in (about 50 bytes each), never pruned: finding the
  -- boots no message refers to would scan the messages table.
  CREATE TABLE boots (
    id INTEGER PRIMARY KEY,
    boot_id TEXT NOT NULL UNIQUE
  );
  CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    created INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    dropped_full INTEGER NOT NULL,
    dropped_max_age INTEGER NOT NULL,
    epoch TEXT NOT NULL DEFAULT '',
    reserved INTEGER NOT NULL DEFAULT 0
  );
`;

export interface Meta {
  schema_version: number;
  created: number;
  /** Highest seq ever assigned. */
  last_seq: number;
  /** Rows in messages and the readings inside them, kept with every change. */
  messages: number;
  readings: number;
  dropped_full: number;
  dropped_max_age: number;
  /** The seq stream this file belongs to; '' until the first commit after a migration. */
  epoch: string;
  /** The seq floor's reservation when this file was last written (seq-floor.ts). */
  reserved: number;
}

/** Lays out an empty database (the caller has set page_size and WAL mode). */
export function createSchema(db: Database.Database, now: number): void {
  db.transaction(() => {
    db.exec(CREATE);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.prepare(
      'INSERT INTO meta (id, schema_version, created, last_seq, messages, readings, dropped_full, dropped_max_age) VALUES (1, ?, ?, 0, 0, 0, 0, 0)',
    ).run(SCHEMA_VERSION, now);
  })();
}

/** True for a file SQLite opened but nothing was ever created in (a crash before createSchema). */
export function isBlank(db: Database.Database): boolean {
  return db.pragma('application_id', { simple: true }) === 0 && db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() === 0;
}

/** Why this database is not a floorgate buffer of this version, or null when it is. */
export function layoutProblem(db: Database.Database): string | null {
  const appId = db.pragma('application_id', { simple: true }) as number;
  if (appId !== APPLICATION_ID) return `application_id is 0x${appId.toString(16)}, not a floorgate buffer`;
  const hasMeta = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('meta', 'messages')").pluck().get();
  if (hasMeta !== 2) return 'the meta or messages table is missing';
  const version = db.prepare('SELECT schema_version FROM meta WHERE id = 1').pluck().get();
  if (typeof version !== 'number' || version < 1 || version > SCHEMA_VERSION) {
    return `schema version ${String(version)}, this floorgate reads versions 1 to ${SCHEMA_VERSION}`;
  }
  return null;
}

/** Brings a file of an older layout version (layoutProblem accepted it) to this one. */
export function migrate(db: Database.Database): void {
  const version = db.prepare('SELECT schema_version FROM meta WHERE id = 1').pluck().get() as number;
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    if (version < 2) {
      // 1 → 2: the columns' defaults make the file read as written before the seq floor existed.
      db.exec("ALTER TABLE meta ADD COLUMN epoch TEXT NOT NULL DEFAULT ''");
      db.exec('ALTER TABLE meta ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0');
    }
    // 2 → 3: older messages read as stamped by a trusted clock in no known boot, as they went
    // out before; with no boot they are never corrected. ADD COLUMN rewrites no row. Only what
    // is missing is added: the step is safe to repeat.
    const columns = db.prepare("SELECT name FROM pragma_table_info('messages')").pluck().all();
    for (const [name, type] of [['boot', 'INTEGER'], ['wall_offset', 'INTEGER'], ['clock', 'INTEGER NOT NULL DEFAULT 0']]) {
      if (!columns.includes(name)) db.exec(`ALTER TABLE messages ADD COLUMN ${name} ${type}`);
    }
    db.exec('CREATE TABLE IF NOT EXISTS boots (id INTEGER PRIMARY KEY, boot_id TEXT NOT NULL UNIQUE)');
    db.prepare('UPDATE meta SET schema_version = ? WHERE id = 1').run(SCHEMA_VERSION);
  })();
}

/** The boots table's number for this boot id, added when new. */
export function bootRef(db: Database.Database, bootId: string): number {
  db.prepare('INSERT OR IGNORE INTO boots (boot_id) VALUES (?)').run(bootId);
  return db.prepare('SELECT id FROM boots WHERE boot_id = ?').pluck().get(bootId) as number;
}

/** The stream id a file was written for, '' when none yet (new, or older than version 2). */
export function fileEpoch(db: Database.Database): string {
  const columns = db.prepare("SELECT name FROM pragma_table_info('meta')").pluck().all();
  return columns.includes('epoch') ? (db.prepare('SELECT epoch FROM meta WHERE id = 1').pluck().get() as string) : '';
}

export function readMeta(db: Database.Database): Meta {
  const meta = db.prepare('SELECT * FROM meta WHERE id = 1').get() as Meta | undefined;
  if (!meta) throw new Error('the buffer has no meta row');
  return meta;
}

export interface Edges {
  oldest: number | null;
  newest: number | null;
}

/** Reads the ts of the oldest and newest message in seq order: two primary-key lookups. */
export function edgeReader(db: Database.Database): () => Edges {
  const oldest = db.prepare('SELECT ts FROM messages ORDER BY seq ASC LIMIT 1').pluck();
  const newest = db.prepare('SELECT ts FROM messages ORDER BY seq DESC LIMIT 1').pluck();
  return () => ({ oldest: (oldest.get() as number | undefined) ?? null, newest: (newest.get() as number | undefined) ?? null });
}

/** Bytes on disk: the database file plus its WAL (the 32 KiB -shm index is not counted). */
export function fileSizes(file: string): { db: number; wal: number } {
  return { db: sizeOf(file), wal: sizeOf(`${file}-wal`) };
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}
