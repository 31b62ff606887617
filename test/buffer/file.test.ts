/**
 * The buffer file itself: what is not a usable floorgate buffer is moved aside (with its WAL)
 * and a new one started, with an error naming both files; what might be fine is never moved;
 * permissions; the recorded schema version; the sync setting.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/buffer/open-database.js';
import { APPLICATION_ID, SCHEMA_VERSION } from '../../src/buffer/schema.js';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import type { MessageStore } from '../../src/buffer/types.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const NOW = Date.parse('2025-03-04T05:06:07.089Z');
const ASIDE = 'buffer.db.corrupt-2025-03-04T050607.089Z';

function open(file: string) {
  const logs = captureLog();
  const store = openBuffer({ path: file, config: bufferConfig(), log: logs.log, now: () => NOW });
  return { store, logs };
}

/**
 * A new, working buffer: a message goes in and comes out with the next seq — 1 in a data dir
 * that never had a buffer, above every seq the old file ever used where it had one.
 */
function expectFresh(store: MessageStore, usedBefore = 0): void {
  expect(store.stats().messages).toBe(0);
  store.append({ device: 'press-1', tag: null, body: '{"v":1}', readings: 1, ts: NOW });
  store.flush();
  const [first] = store.read(0, 10);
  expect(first.body).toBe('{"v":1}');
  if (usedBefore === 0) expect(first.seq).toBe(1);
  else expect(first.seq).toBeGreaterThan(usedBefore);
}

function expectMovedAside(dir: string, logs: ReturnType<typeof captureLog>, reason: RegExp): void {
  const errors = logs.lines().filter((l) => l.level === 50);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ file: path.join(dir, 'buffer.db'), moved_to: path.join(dir, ASIDE) });
  expect(errors[0].msg).toContain(path.join(dir, 'buffer.db'));
  expect(errors[0].msg).toContain(path.join(dir, ASIDE));
  expect(errors[0].reason).toMatch(reason);
}

describe('a file that is not a usable buffer', () => {
  it('random bytes: moved aside untouched, a new buffer started', () => {
    const dir = tempDir();
    const junk = randomBytes(64 * 1024);
    fs.writeFileSync(path.join(dir, 'buffer.db'), junk);
    const { store, logs } = open(path.join(dir, 'buffer.db'));
    expect(fs.readFileSync(path.join(dir, ASIDE))).toEqual(junk);
    expectMovedAside(dir, logs, /not a database|file is not/i);
    expectFresh(store);
    store.close();
  });

  it('a valid SQLite file of another application, with its WAL: both moved aside', () => {
    const dir = tempDir();
    const file = path.join(dir, 'buffer.db');
    const other = new Database(file);
    other.pragma('journal_mode = WAL');
    other.exec("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada')");
    // Copied while the other application still has it open: its WAL holds the data.
    const copy = path.join(tempDir(), 'buffer.db');
    fs.copyFileSync(file, copy);
    fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    other.close();
    const copyDir = path.dirname(copy);
    const { store, logs } = open(copy);
    expectMovedAside(copyDir, logs, /application_id is 0x0/);
    expect(fs.existsSync(path.join(copyDir, `${ASIDE}-wal`))).toBe(true);
    // Moved intact: the other application's data is still readable there.
    const aside = new Database(path.join(copyDir, ASIDE), { readonly: true });
    expect(aside.prepare('SELECT name FROM users').pluck().all()).toEqual(['ada']);
    aside.close();
    expectFresh(store);
    store.close();
  });

  it('a floorgate buffer of another schema version', () => {
    const dir = tempDir();
    const file = path.join(dir, 'buffer.db');
    const { store: first } = open(file);
    first.close();
    const db = new Database(file);
    db.prepare('UPDATE meta SET schema_version = 99').run();
    db.close();
    const { store, logs } = open(file);
    expectMovedAside(dir, logs, /schema version 99/);
    expectFresh(store);
    store.close();
  });

  it('a floorgate buffer with damaged pages', () => {
    const dir = tempDir();
    const file = path.join(dir, 'buffer.db');
    const { store: first } = open(file);
    for (let i = 0; i < 2000; i++) first.append({ device: 'press-1', tag: null, body: `{"i":${i}}`, readings: 1, ts: NOW });
    first.close();
    // Overwrite the middle of the file (message pages), keeping the header valid.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, randomBytes(3 * 4096), 0, 3 * 4096, 4 * 4096);
    fs.closeSync(fd);
    const { store, logs } = open(file);
    expectMovedAside(dir, logs, /./);
    expectFresh(store, 2000);
    store.close();
  });

  it('an empty file (a crash before the schema was written) simply becomes a buffer', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'buffer.db'), '');
    const { store, logs } = open(path.join(dir, 'buffer.db'));
    expect(logs.lines().filter((l) => l.level >= 50)).toEqual([]);
    expect(fs.readdirSync(dir).filter((f) => f.includes('corrupt'))).toEqual([]);
    expectFresh(store);
    store.close();
  });

  it('a path SQLite cannot open is an error, and nothing is moved', () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'buffer.db'));
    expect(() => open(path.join(dir, 'buffer.db'))).toThrow();
    expect(fs.readdirSync(dir)).toEqual(['buffer.db']);
  });
});

describe('the file', () => {
  it('lives in a data dir created 0700, is 0600 with its WAL, and records its schema version', () => {
    const dir = path.join(tempDir(), 'state', 'floorgate');
    const file = path.join(dir, 'buffer.db');
    const { store } = open(file);
    store.append({ device: 'press-1', tag: null, body: '{}', readings: 1, ts: NOW });
    store.flush();
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of ['buffer.db', 'buffer.db-wal', 'buffer.db-shm']) expect(fs.statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.prepare('SELECT schema_version, created FROM meta').get()).toEqual({ schema_version: SCHEMA_VERSION, created: NOW });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    store.close();
  });

  it('sync: normal sets synchronous=NORMAL (1), sync: full sets FULL (2)', () => {
    for (const [sync, level] of [['normal', 1], ['full', 2]] as const) {
      const db = openDatabase(path.join(tempDir(), 'buffer.db'), { sync, log: captureLog().log, now: Date.now });
      expect(db.pragma('synchronous', { simple: true })).toBe(level);
      db.close();
    }
  });
});
