/**
 * Correcting buffered timestamps (reference §4.12): MessageStore.restamp on a real buffer file,
 * judged by reading the file with a separate connection. Only this boot's unsynced messages
 * change, committed or still queued; their ts moves by (offset now − offset stamped), in the
 * row and in every reading of the body; everything else keeps its bytes.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { shiftBodyTs } from '../../src/buffer/restamp.js';
import { SCHEMA_VERSION } from '../../src/buffer/schema.js';
import type { MessageStore, NewMessage } from '../../src/buffer/types.js';
import { ClockFlag } from '../../src/clock/flag.js';
import { bufferConfig, captureLog, diskBytes, removeTempDirs, tempDir } from '../buffer/helpers.js';

const open: MessageStore[] = [];
afterEach(() => {
  for (const b of open.splice(0)) b.close();
  removeTempDirs();
});

function buffer(file: string, bootId: string): MessageStore {
  const b = openBuffer({ path: file, config: bufferConfig(), log: captureLog().log, bootId });
  open.push(b);
  return b;
}

/** Readings stamped 3 days behind (within max_age), by a clock whose offset was this. */
const T = Date.now() - 259_200_000;
const STAMPED_OFFSET = 1_000_000;
const TRUE_OFFSET = STAMPED_OFFSET + 259_200_000;

function message(device: string, ts: number, clock: ClockFlag, wallOffset = STAMPED_OFFSET): NewMessage {
  const body = `[{"tag":"a","value":1,"quality":"good","ts":${ts}},{"tag":"say \\"ts\\":5","value":"\\"ts\\":7","quality":"good","ts":${ts + 3}}]`;
  return { device, tag: null, body, readings: 2, ts, clock, wallOffset };
}

interface Row { seq: number; ts: number; device: string; body: string; clock: number; wall_offset: number; boot_id: string }

function rows(file: string): Row[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT seq, ts, device, body, clock, wall_offset, boot_id FROM messages JOIN boots ON boots.id = messages.boot ORDER BY seq').all() as Row[];
  } finally {
    db.close();
  }
}

describe('restamp', () => {
  it('shifts this boot\'s unsynced messages, committed and queued, and leaves the rest alone', async () => {
    const file = path.join(tempDir(), 'buffer.db');
    const earlier = buffer(file, 'boot-earlier');
    earlier.append(message('earlier', T + 1000, ClockFlag.unsynced));
    earlier.close();
    open.pop();

    const b = buffer(file, 'boot-now');
    b.append(message('unsynced', T + 2000, ClockFlag.unsynced));
    b.append(message('trusted', T + 3000, ClockFlag.trusted));
    b.flush();
    b.append(message('queued', T + 4000, ClockFlag.unsynced));
    expect(await b.restamp(TRUE_OFFSET, ClockFlag.unsynced, ClockFlag.corrected)).toBe(2);
    b.flush();

    const shift = TRUE_OFFSET - STAMPED_OFFSET;
    const got = new Map(rows(file).map((r) => [r.device, r]));
    expect(got.get('earlier')).toMatchObject({ ts: T + 1000, clock: ClockFlag.unsynced, wall_offset: STAMPED_OFFSET, boot_id: 'boot-earlier', body: message('', T + 1000, 0).body });
    expect(got.get('trusted')).toMatchObject({ ts: T + 3000, clock: ClockFlag.trusted, boot_id: 'boot-now', body: message('', T + 3000, 0).body });
    for (const [device, ts] of [['unsynced', T + 2000], ['queued', T + 4000]] as const) {
      const row = got.get(device)!;
      expect(row).toMatchObject({ ts: ts + shift, clock: ClockFlag.corrected, wall_offset: TRUE_OFFSET, boot_id: 'boot-now' });
      // Both readings moved; the quoted "ts" inside a tag name and a value did not.
      expect(JSON.parse(row.body)).toEqual(JSON.parse(message('', ts + shift, 0).body));
    }
    // What the forwarder reads carries the flag.
    expect(b.read(0, 10).map((m) => [m.device, m.clock])).toEqual([
      ['earlier', ClockFlag.unsynced], ['unsynced', ClockFlag.corrected], ['trusted', ClockFlag.trusted], ['queued', ClockFlag.corrected],
    ]);
  });

  it('corrects a backlog larger than one transaction may write, within the disk cap, a chunk per turn of the event loop', async () => {
    const file = path.join(tempDir(), 'buffer.db');
    const b = openBuffer({ path: file, config: bufferConfig({ max_bytes: 1024 * 1024 }), log: captureLog().log, bootId: 'boot-now' });
    open.push(b);
    const n = 3000;
    for (let i = 0; i < n; i++) b.append(message('d', T + i, ClockFlag.unsynced));
    b.flush();
    let done = false;
    const restamping = b.restamp(TRUE_OFFSET, ClockFlag.unsynced, ClockFlag.corrected).then((count) => { done = true; return count; });
    // The event loop turns between chunks: other work is not held for the whole backlog.
    const turnedBeforeDone = await new Promise<boolean>((resolve) => setImmediate(() => resolve(!done)));
    expect(turnedBeforeDone).toBe(true);
    expect(await restamping).toBe(n);
    const all = rows(file);
    expect(all).toHaveLength(n);
    expect(all.every((r, i) => r.clock === ClockFlag.corrected && r.ts === T + i + TRUE_OFFSET - STAMPED_OFFSET)).toBe(true);
    expect(diskBytes(file)).toBeLessThanOrEqual(1024 * 1024);
  });

  it('newestTrustedTs: the newest message a trusted clock stamped, not an untrusted one\'s nor a device\'s own time', () => {
    const file = path.join(tempDir(), 'buffer.db');
    const b = buffer(file, 'boot-now');
    expect(b.newestTrustedTs()).toBeNull();
    b.append(message('a', T + 1000, ClockFlag.trusted));
    b.append(message('b', T + 2000, ClockFlag.corrected));
    b.append(message('c', T + 9000, ClockFlag.unsynced));
    b.append({ ...message('d', T + 8000, ClockFlag.trusted), wallOffset: undefined });
    b.flush();
    expect(b.newestTrustedTs()).toBe(T + 2000);
  });

  it('max_age ages an untrusted clock\'s readings of this boot by the monotonic clock, committed or queued', () => {
    const file = path.join(tempDir(), 'buffer.db');
    // A gateway that booted at 1970 and stamped its readings so, then NTP stepped the clock.
    let now = 6_000;
    let mono = 1_000_000;
    const b = openBuffer({ path: file, config: bufferConfig({ max_age: 60_000 }), log: captureLog().log, bootId: 'boot-now', now: () => now, mono: () => mono });
    open.push(b);
    b.append(message('old-trusted', 5_000, ClockFlag.trusted, 5_000 - mono));
    b.append(message('committed-1970', 6_000, ClockFlag.unsynced, 6_000 - mono));
    b.flush();
    b.append(message('queued-1970', 7_000, ClockFlag.unsynced, 7_000 - (mono + 1_000)));
    now = Date.now();
    mono += 10_000;
    b.flush();
    // 10 s old by the monotonic clock: kept, though their ts is 56 years behind the wall clock.
    expect(rows(file).map((r) => r.device)).toEqual(['committed-1970', 'queued-1970']);
    expect(b.stats().dropped.max_age).toBe(2);
    // 60.5 s after committed-1970 was taken, 59.5 s after queued-1970.
    now += 50_500;
    mono += 50_500;
    b.flush();
    expect(rows(file).map((r) => r.device)).toEqual(['queued-1970']);
    // Past the buffer's next look at the head (every 5 s).
    now += 5_000;
    mono += 5_000;
    b.flush();
    expect(rows(file)).toEqual([]);
    expect(b.stats().dropped.max_age).toBe(6);
  });

  it('max_age never drops an untrusted clock\'s reading of an earlier boot: its age is unknown', () => {
    const file = path.join(tempDir(), 'buffer.db');
    let now = 6_000;
    const earlier = openBuffer({ path: file, config: bufferConfig({ max_age: 60_000 }), log: captureLog().log, bootId: 'boot-earlier', now: () => now, mono: () => 1_000 });
    earlier.append(message('earlier-1970', 6_000, ClockFlag.unsynced, 5_000));
    earlier.close();
    now = Date.now();
    const b = openBuffer({ path: file, config: bufferConfig({ max_age: 60_000 }), log: captureLog().log, bootId: 'boot-now', now: () => now, mono: () => 1_000 });
    open.push(b);
    now += 600_000;
    b.flush();
    expect(rows(file).map((r) => r.device)).toEqual(['earlier-1970']);
    expect(b.stats().dropped.max_age).toBe(0);
  });

  it('a version 2 file is migrated: its messages read as trusted, of no boot, never restamped', async () => {
    const file = path.join(tempDir(), 'buffer.db');
    const b = buffer(file, 'boot-now');
    b.append(message('v2', T, ClockFlag.trusted));
    b.close();
    open.pop();
    const db = new Database(file);
    db.exec('ALTER TABLE messages DROP COLUMN clock; ALTER TABLE messages DROP COLUMN wall_offset; ALTER TABLE messages DROP COLUMN boot;'
      + ' DROP TABLE boots; UPDATE meta SET schema_version = 2');
    db.close();

    const reopened = buffer(file, 'boot-now');
    reopened.append(message('v3', T + 1, ClockFlag.unsynced));
    expect(await reopened.restamp(TRUE_OFFSET, ClockFlag.unsynced, ClockFlag.corrected)).toBe(1);
    expect(reopened.read(0, 10).map((m) => [m.device, m.clock, m.ts])).toEqual([
      ['v2', ClockFlag.trusted, T], ['v3', ClockFlag.corrected, T + 1 + TRUE_OFFSET - STAMPED_OFFSET],
    ]);
    const check = new Database(file, { readonly: true });
    expect(check.prepare('SELECT schema_version FROM meta').pluck().get()).toBe(SCHEMA_VERSION);
    expect(check.prepare("SELECT boot, wall_offset FROM messages WHERE device = 'v2'").get()).toEqual({ boot: null, wall_offset: null });
    check.close();
  });

  it('a newer restamp takes over from one still running: the rows still flagged get the newer offset', async () => {
    const file = path.join(tempDir(), 'buffer.db');
    const b = buffer(file, 'boot-now');
    for (let i = 0; i < 1000; i++) b.append(message('d', T + i, ClockFlag.unsynced));
    b.flush();
    const first = b.restamp(TRUE_OFFSET, ClockFlag.unsynced, ClockFlag.corrected);
    const second = b.restamp(TRUE_OFFSET + 5000, ClockFlag.unsynced, ClockFlag.corrected);
    expect((await first) + (await second)).toBe(1000);
    // Rows the first run corrected stay as it left them: it ran one chunk before the second took over.
    const offsets = new Set(rows(file).map((r) => r.wall_offset));
    expect(rows(file).every((r) => r.clock === ClockFlag.corrected)).toBe(true);
    expect(offsets).toEqual(new Set([TRUE_OFFSET, TRUE_OFFSET + 5000]));
  });

  it('shiftBodyTs moves every reading\'s ts and nothing else', () => {
    expect(shiftBodyTs('{"value":"\\"ts\\":1","quality":"good","ts":100,"error":"ts"}', -40)).toBe('{"value":"\\"ts\\":1","quality":"good","ts":60,"error":"ts"}');
  });
});
