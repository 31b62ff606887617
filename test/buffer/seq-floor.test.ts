/**
 * Seq never goes back (reference §4.9): whatever happens to buffer.db — moved aside as corrupt,
 * deleted, replaced by an old copy, its last commits lost with a sync: normal WAL — the next
 * message gets a seq above every seq handed out before, in the same stream (epoch). Only a
 * wiped data dir starts again at 1, and then under a new epoch.
 *
 * "Handed out" is judged by what read() returned (what the forwarder would have published),
 * never by what the file says afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { MARK_INTERVAL_MS, RESERVE_BLOCK, SEQ_FLOOR_FILE, seqFloorPath } from '../../src/buffer/seq-floor.js';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import type { MessageStore } from '../../src/buffer/types.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

/** `mono`: the monotonic clock that paces the floor's committed mark. */
function open(file: string, mono?: () => number) {
  const logs = captureLog();
  return { store: openBuffer({ path: file, config: bufferConfig(), log: logs.log, mono }), logs };
}

/** Appends n messages, commits, and returns the seqs read() hands out for them. */
function publish(store: MessageStore, n: number, tag = 'x'): number[] {
  const before = store.stats().last_seq;
  for (let i = 0; i < n; i++) store.append({ device: 'press-1', tag: null, body: `{"${tag}":${i}}`, readings: 1, ts: Date.now() });
  store.flush();
  return store.read(before, n).map((m) => m.seq);
}

function newBufferIn(): { dir: string; file: string } {
  const dir = tempDir();
  return { dir, file: path.join(dir, 'buffer.db') };
}

const removeBuffer = (file: string) => { for (const s of ['', '-wal', '-shm']) fs.rmSync(file + s, { force: true }); };

/** A buffer of 10 messages, closed, and a copy of it set aside; restore() puts the copy in the file's place. */
function bufferWithOldCopy(): { file: string; restore(): void } {
  const { file } = newBufferIn();
  const { store } = open(file);
  publish(store, 10);
  store.close();
  const saved = path.join(tempDir(), 'saved.db');
  fs.copyFileSync(file, saved);
  return {
    file,
    restore() {
      removeBuffer(file);
      fs.copyFileSync(saved, file);
    },
  };
}

describe('seq after the buffer file is replaced', () => {
  it('a corrupt file moved aside: the new file goes on above every seq used, same epoch', () => {
    const { dir, file } = newBufferIn();
    const { store: first } = open(file);
    const used = publish(first, 50);
    const epoch = first.epoch;
    first.close();
    fs.writeFileSync(file, 'not a database at all, but long enough to be looked at '.repeat(200));
    const { store, logs } = open(file);
    expect(fs.readdirSync(dir).some((f) => f.startsWith('buffer.db.corrupt-'))).toBe(true);
    expect(logs.lines().some((l) => l.level === 50)).toBe(true);
    const next = publish(store, 3);
    expect(Math.min(...next)).toBeGreaterThan(Math.max(...used));
    expect(store.epoch).toBe(epoch);
    store.close();
  });

  it('buffer.db and its WAL deleted: goes on above, same epoch, and says so', () => {
    const { file } = newBufferIn();
    const { store: first } = open(file);
    const used = publish(first, 20);
    const epoch = first.epoch;
    first.close();
    removeBuffer(file);
    const { store, logs } = open(file);
    expect(Math.min(...publish(store, 2))).toBeGreaterThan(Math.max(...used));
    expect(store.epoch).toBe(epoch);
    expect(logs.lines().find((l) => l.level === 40 && /seq continues above the seq floor/.test(l.msg))).toBeDefined();
    store.close();
  });

  it('an old copy restored: its messages keep their seqs (a consumer sees duplicates), new ones go above', () => {
    const { file, restore } = bufferWithOldCopy();
    const { store: second } = open(file);
    const later = publish(second, 10, 'later');
    second.close();
    restore();
    const { store } = open(file);
    const old = store.read(0, 100);
    expect(old.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(old[0].body).toBe('{"x":0}');
    expect(Math.min(...publish(store, 2))).toBeGreaterThan(Math.max(...later));
    store.close();
  });

  it(`an old copy restored after a crash, taken over ${MARK_INTERVAL_MS / 1000} s of progress before it: new ones go above`, () => {
    const { file, restore } = bufferWithOldCopy();
    // The same reservation block throughout: only the committed mark can tell the copy is old.
    let clock = 0;
    const { store: crashed } = open(file, () => clock);
    publish(crashed, 10, 'early');
    clock += MARK_INTERVAL_MS;
    const handedOut = publish(crashed, 10, 'late');
    // No close(): the process died. Then the old copy is put in the file's place.
    restore();
    const { store } = open(file);
    expect(Math.min(...publish(store, 2))).toBeGreaterThan(Math.max(...handedOut));
    store.close();
    crashed.close();
  });

  it(`an old copy restored after a crash within ${MARK_INTERVAL_MS / 1000} s, but from before the last reservation: new ones go above`, () => {
    const { file, restore } = bufferWithOldCopy();
    // The clock stands still: no committed mark after the open, so only the reservation the
    // copy did not record can tell it is old.
    const { store: crashed } = open(file, () => 0);
    const handedOut = publish(crashed, RESERVE_BLOCK + 10);
    restore();
    const { store } = open(file);
    expect(Math.min(...publish(store, 2))).toBeGreaterThan(Math.max(...handedOut));
    store.close();
    crashed.close();
  });

  it('a sync: normal WAL that lost its last commits (power cut): the floor still holds', () => {
    const { file } = newBufferIn();
    const { store: first } = open(file);
    publish(first, 5);
    first.close();
    const before = fs.readFileSync(file);
    const { store: second } = open(file);
    // More than a block: the floor moves on durably while the file's later state is lost.
    const lost = publish(second, RESERVE_BLOCK + 10);
    second.close();
    removeBuffer(file);
    fs.writeFileSync(file, before);
    const { store } = open(file);
    expect(Math.min(...publish(store, 1))).toBeGreaterThan(Math.max(...lost));
    store.close();
  });

  it('a normal restart continues without a gap and rewrites the floor only once per block', () => {
    const { file } = newBufferIn();
    const { store: first } = open(file);
    const a = publish(first, 30);
    first.close();
    const floorBefore = fs.statSync(seqFloorPath(file)).mtimeMs;
    const { store } = open(file);
    expect(publish(store, 1)).toEqual([a[a.length - 1] + 1]);
    expect(fs.statSync(seqFloorPath(file)).mtimeMs).toBe(floorBefore);
    store.close();
  });

  it('a wiped data dir starts a new stream: seq 1 under a new epoch', () => {
    const { dir, file } = newBufferIn();
    const { store: first } = open(file);
    publish(first, 5);
    const epoch = first.epoch;
    first.close();
    fs.rmSync(dir, { recursive: true });
    const { store } = open(file);
    expect(publish(store, 1)).toEqual([1]);
    expect(store.epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(store.epoch).not.toBe(epoch);
    store.close();
  });

  it('a buffer file of another stream is moved aside, not published under this one', () => {
    const { dir, file } = newBufferIn();
    const other = newBufferIn();
    const { store: foreign } = open(other.file);
    publish(foreign, 5);
    foreign.close();
    const { store: mine } = open(file);
    const used = publish(mine, 3);
    mine.close();
    removeBuffer(file);
    fs.copyFileSync(other.file, file);
    const { store, logs } = open(file);
    expect(fs.readdirSync(dir).some((f) => f.startsWith('buffer.db.corrupt-'))).toBe(true);
    expect(logs.lines().find((l) => l.level === 50)?.reason).toMatch(/belongs to seq stream/);
    expect(store.read(0, 10)).toEqual([]);
    expect(Math.min(...publish(store, 1))).toBeGreaterThan(Math.max(...used));
    store.close();
  });

  it('a damaged seq floor stops the start with a clear error instead of guessing', () => {
    const { dir, file } = newBufferIn();
    fs.writeFileSync(path.join(dir, SEQ_FLOOR_FILE), 'garbage');
    expect(() => open(file)).toThrow(/is not a seq floor/);
  });
});

describe('a buffer file from before the seq floor (schema version 1)', () => {
  it('is migrated in place: messages, last_seq and counters kept, an epoch given', () => {
    const { dir, file } = newBufferIn();
    const { store: first } = open(file);
    publish(first, 4);
    first.close();
    // Back to version 1's layout, and no floor beside it, as an older floorgate left them.
    const db = new Database(file);
    db.exec('ALTER TABLE meta DROP COLUMN epoch; ALTER TABLE meta DROP COLUMN reserved; UPDATE meta SET schema_version = 1');
    db.close();
    fs.rmSync(path.join(dir, SEQ_FLOOR_FILE));
    const { store, logs } = open(file);
    expect(logs.lines().filter((l) => l.level >= 40)).toEqual([]);
    expect(store.read(0, 10).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(publish(store, 1)).toEqual([5]);
    expect(store.epoch).toMatch(/^[0-9a-f]{12}$/);
    store.close();
  });
});

describe('the seq floor file', () => {
  it('is raised ahead of every seq handed out, before close', () => {
    const { file } = newBufferIn();
    const { store } = open(file);
    const used = publish(store, RESERVE_BLOCK + 5);
    const floor = JSON.parse(fs.readFileSync(seqFloorPath(file), 'utf8')) as { reserved: number };
    expect(floor.reserved).toBeGreaterThanOrEqual(Math.max(...used));
    store.close();
  });

  it.each([
    ['not JSON', 'garbage'],
    ['no epoch', '{"reserved": 10, "committed": 5}'],
    ['an epoch that is not hex', '{"epoch": "xyz", "reserved": 10, "committed": 5}'],
    ['hex with more around it', '{"epoch": "ab12 and more", "reserved": 10, "committed": 5}'],
    ['a number for an epoch', '{"epoch": 1234, "reserved": 10, "committed": 5}'],
    ['a negative reservation and mark', '{"epoch": "ab12", "reserved": -1, "committed": -2}'],
    ['a fractional reservation', '{"epoch": "ab12", "reserved": 1.5, "committed": 0}'],
    ['no committed mark', '{"epoch": "ab12", "reserved": 10}'],
    ['a mark above the reservation', '{"epoch": "ab12", "reserved": 10, "committed": 11}'],
  ])('%s stops the start with a clear error', (_what, text) => {
    const { dir, file } = newBufferIn();
    fs.writeFileSync(path.join(dir, SEQ_FLOOR_FILE), text);
    expect(() => open(file)).toThrow(/is not a seq floor/);
  });

  it('one that cannot be read is an error, never taken for "no floor" (a new stream)', () => {
    const { dir, file } = newBufferIn();
    fs.mkdirSync(path.join(dir, SEQ_FLOOR_FILE));
    expect(() => open(file)).toThrow(/EISDIR/);
  });
});
