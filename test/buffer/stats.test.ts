/** `floorgate buffer stats`: read-only, from the file, while the daemon runs and after it stopped. */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { formatBufferStats, readBufferStats } from '../../src/buffer/stats.js';
import { bufferConfig, captureLog, diskBytes, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const T0 = Date.parse('2025-06-01T12:00:00.000Z');

describe('readBufferStats', () => {
  it('sees the last commit while the buffer is open, and the same after it closed', () => {
    const file = path.join(tempDir(), 'buffer.db');
    let clock = T0;
    const store = openBuffer({ path: file, config: bufferConfig({ max_age: 60_000 }), log: captureLog().log, now: () => clock });
    for (let i = 0; i < 10; i++) store.append({ device: 'press-1', tag: null, body: `{"i":${i}}`, readings: 3, ts: T0 + i * 1000 });
    store.append({ device: 'press-1', tag: 't', body: '{}', readings: 5, ts: T0 - 120_000 }); // too old: dropped
    store.flush();
    for (const m of store.read(0, 2)) store.ack(m.seq);
    store.flush();
    store.append({ device: 'press-1', tag: null, body: '{}', readings: 1, ts: T0 + 20_000 }); // not committed yet

    const live = readBufferStats(file);
    expect(live).toEqual({
      messages: 8, readings: 24, bytes: diskBytes(file),
      // The too-old message consumed seq 11 when it was dropped.
      oldest_ts: T0 + 2000, newest_ts: T0 + 9000, last_seq: 11,
      dropped: { full: 0, max_age: 5 },
    });
    expect(live).toEqual(store.stats());
    expect(fs.existsSync(`${file}-wal`)).toBe(true);

    clock += 1000;
    store.close();
    const after = readBufferStats(file);
    expect(after).toMatchObject({ messages: 9, readings: 25, last_seq: 12, newest_ts: T0 + 20_000 });
    // Read-only: the file is unchanged by reading it.
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(9);
    db.close();
  });

  it('refuses a file that is not a floorgate buffer, and a missing one, with a clear error', () => {
    const dir = tempDir();
    const other = path.join(dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect(() => readBufferStats(other)).toThrow(/not a floorgate buffer/);
    expect(() => readBufferStats(path.join(dir, 'nope.db'))).toThrow(/no buffer file/);
    expect(fs.existsSync(path.join(dir, 'nope.db'))).toBe(false);
  });
});

describe('formatBufferStats', () => {
  it('prints depth, bytes, oldest/newest as ISO time and age, last seq and drops by reason', () => {
    const text = formatBufferStats(
      {
        messages: 12_345, readings: 98_765, bytes: 5 * 2 ** 20 + 123, oldest_ts: T0 - (3 * 3600 + 12 * 60) * 1000, newest_ts: T0 - 1500,
        last_seq: 48_213, dropped: { full: 1200, max_age: 0 },
      },
      T0,
    );
    expect(text.split('\n')).toEqual([
      'messages           12,345',
      'readings           98,765',
      'bytes on disk      5.0 MiB (5,243,003 bytes)',
      'oldest reading     2025-06-01T08:48:00.000Z (3h 12m ago)',
      'newest reading     2025-06-01T11:59:58.500Z (1s ago)',
      'last seq           48213',
      'dropped (full)     1,200 readings',
      'dropped (max_age)  0 readings',
    ]);
  });

  it('a file created but not yet initialised (the daemon killed in its first instants) reads as an empty buffer', () => {
    const file = path.join(tempDir(), 'buffer.db');
    new Database(file).close(); // what SQLite leaves when the process dies before the schema commits
    expect(readBufferStats(file)).toMatchObject({ messages: 0, readings: 0, last_seq: 0, oldest_ts: null, dropped: { full: 0, max_age: 0 } });
    // And the daemon's buffer makes a buffer of it, without moving it aside.
    const store = openBuffer({ path: file, config: bufferConfig(), log: captureLog().log });
    store.append({ device: 'd', tag: null, body: '[]', readings: 1, ts: T0 });
    store.close();
    expect(readBufferStats(file).last_seq).toBe(1);
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f.includes('corrupt'))).toEqual([]);
  });

  it('an empty buffer has no oldest or newest reading', () => {
    const text = formatBufferStats({ messages: 0, readings: 0, bytes: 900, oldest_ts: null, newest_ts: null, last_seq: 0, dropped: { full: 0, max_age: 0 } }, T0);
    expect(text).toMatch(/oldest reading +-\n/);
    expect(text).toMatch(/bytes on disk +900 B \(900 bytes\)/);
  });
});
