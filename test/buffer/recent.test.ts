/**
 * A caught-up forwarder reads the messages just committed from memory (src/buffer/recent.ts),
 * not from SQLite. Judged against the file itself, read with a separate connection: whatever
 * read() hands out after acks, drops and a restamp is exactly what the file holds.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import type { MessageStore, NewMessage } from '../../src/buffer/types.js';
import { ClockFlag } from '../../src/clock/flag.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from './helpers.js';

const open: MessageStore[] = [];
afterEach(() => {
  for (const b of open.splice(0)) b.close();
  removeTempDirs();
});

/** A buffer with a reader keeping up: it read (nothing yet), so commits keep their rows in memory. */
function buffer(over: Parameters<typeof bufferConfig>[0] = {}): { b: MessageStore; file: string } {
  const file = path.join(tempDir(), 'buffer.db');
  const b = openBuffer({ path: file, config: bufferConfig(over), log: captureLog().log, bootId: 'boot' });
  open.push(b);
  expect(b.read(0, 10)).toEqual([]);
  return { b, file };
}

function message(i: number, extra: Partial<NewMessage> = {}): NewMessage {
  const ts = Date.now() - 1000 + i;
  return { device: 'd', tag: null, body: `[{"tag":"t","value":${i},"quality":"good","ts":${ts}}]`, readings: 1, ts, ...extra };
}

/** What the file holds, unacknowledged rows only, as read() should hand them out. */
function stored(file: string, hidden: ReadonlySet<number> = new Set()): { seq: number; ts: number; body: string; clock: number }[] {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT seq, ts, body, clock FROM messages ORDER BY seq').all() as { seq: number; ts: number; body: string; clock: number }[];
    return rows.filter((r) => !hidden.has(r.seq));
  } finally {
    db.close();
  }
}

const shape = (ms: readonly { seq: number; ts: number; body: string; clock?: number }[]) => ms.map((m) => ({ seq: m.seq, ts: m.ts, body: m.body, clock: m.clock }));

describe('messages just committed, read from memory', () => {
  it('an acknowledged message deleted by the next commit is never handed out again, even acknowledged out of order', () => {
    const { b, file } = buffer();
    for (let i = 1; i <= 5; i++) b.append(message(i));
    b.flush();
    expect(shape(b.read(0, 10))).toEqual(shape(stored(file)));
    b.ack(4);
    b.ack(1);
    b.append(message(6));
    b.flush();
    expect(stored(file).map((r) => r.seq)).toEqual([2, 3, 5, 6]);
    expect(shape(b.read(0, 10))).toEqual(shape(stored(file)));
    expect(shape(b.read(3, 10))).toEqual(shape(stored(file)).slice(2));
    expect(shape(b.read(1, 2))).toEqual(shape(stored(file)).slice(0, 2));
  });

  it('messages dropped to make room are not handed out', () => {
    const { b, file } = buffer({ max_bytes: 256 * 1024 });
    const big = (i: number) => message(i, { body: `[{"tag":"t","value":"${'x'.repeat(20_000)}${i}","quality":"good","ts":1}]` });
    let i = 0;
    for (; i < 4; i++) b.append(big(i));
    b.flush();
    const before = b.read(0, 100).map((m) => m.seq);
    for (; i < 40; i++) {
      b.append(big(i));
      b.flush();
    }
    const held = stored(file);
    expect(held[0].seq).toBeGreaterThan(before[before.length - 1]);
    expect(shape(b.read(0, 100))).toEqual(shape(held));
    expect(shape(b.read(before[1], 100))).toEqual(shape(held));
  });

  it('a restamp rewrites committed rows: read() hands out the corrected ts and flag', async () => {
    const { b, file } = buffer();
    for (let i = 1; i <= 3; i++) b.append(message(i, { clock: ClockFlag.unsynced, wallOffset: 1000 }));
    b.flush();
    expect(b.read(0, 10).map((m) => m.clock)).toEqual([ClockFlag.unsynced, ClockFlag.unsynced, ClockFlag.unsynced]);
    expect(await b.restamp(61_000, ClockFlag.unsynced, ClockFlag.corrected)).toBe(3);
    const held = stored(file);
    expect(held.map((r) => r.clock)).toEqual([ClockFlag.corrected, ClockFlag.corrected, ClockFlag.corrected]);
    expect(shape(b.read(0, 10))).toEqual(shape(held));
    expect(shape(b.read(1, 10))).toEqual(shape(held).slice(1));
  });

  it('with no reader for a while commits keep nothing; a reader back reads the gap from SQLite, then from memory again', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const { b, file } = buffer();
      for (let i = 1; i <= 3; i++) b.append(message(i));
      b.flush();
      expect(b.read(0, 10).map((m) => m.seq)).toEqual([1, 2, 3]);
      vi.advanceTimersByTime(6_000); // the broker went away: nobody reads
      for (let i = 4; i <= 6; i++) b.append(message(i));
      b.flush();
      vi.advanceTimersByTime(1_000);
      b.ack(1);
      expect(shape(b.read(1, 10))).toEqual(shape(stored(file, new Set([1]))));
      for (let i = 7; i <= 8; i++) b.append(message(i));
      b.flush();
      expect(shape(b.read(0, 10))).toEqual(shape(stored(file)));
      expect(shape(b.read(5, 10))).toEqual(shape(stored(file)).filter((r) => r.seq > 5));
    } finally {
      vi.useRealTimers();
    }
  });
});
