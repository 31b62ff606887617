/**
 * The caps: max_bytes is never exceeded on disk (database file + WAL), overflow follows
 * when_full, max_age drops old messages, and every dropped reading is counted exactly: what
 * went in = what is stored + what was acknowledged + what was dropped.
 */
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRanges } from '../../src/buffer/drop-log.js';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { readBufferStats } from '../../src/buffer/stats.js';
import type { DropReason, MessageStore, NewMessage } from '../../src/buffer/types.js';
import type { BufferConfig } from '../../src/config/types.js';
import { bufferConfig, captureLog, diskBytes, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const CAP = 256 * 1024;

/** A buffer plus the bookkeeping of everything done to it. */
class Harness {
  store: MessageStore;
  readonly file = path.join(tempDir(), 'buffer.db');
  readonly logs = captureLog();
  readonly onDrop: Record<DropReason, number> = { full: 0, max_age: 0 };
  appended = 0;
  acked = 0;
  ackedSeqs = new Set<number>();
  largestDisk = 0;
  private n = 0;

  constructor(readonly config: BufferConfig, readonly now?: () => number) {
    this.store = this.open();
  }

  open(): MessageStore {
    const store = openBuffer({
      path: this.file, config: this.config, log: this.logs.log, now: this.now,
      onDrop: (reason, readings) => (this.onDrop[reason] += readings),
    });
    // After every commit, not only after each flush: the cap holds at all times.
    store.onCommit(() => this.checkDisk());
    return store;
  }

  append(size: number, readings: number, ts = this.now?.() ?? Date.now()): NewMessage {
    const m = { device: 'press-1', tag: null, body: JSON.stringify({ n: this.n++, pad: 'x'.repeat(size) }), readings, ts };
    this.store.append(m);
    this.appended += readings;
    return m;
  }

  flush(): void {
    this.store.flush();
    this.checkDisk();
    // Full is a policy, not a failure: commits keep succeeding.
    expect(this.store.writable).toBe(true);
  }

  ackOldest(count: number): void {
    for (const m of this.store.read(0, count)) {
      this.store.ack(m.seq);
      this.ackedSeqs.add(m.seq);
      this.acked += m.readings;
    }
  }

  reopen(): void {
    this.store.close();
    this.checkDisk();
    this.store = this.open();
  }

  checkDisk(): void {
    const bytes = diskBytes(this.file);
    this.largestDisk = Math.max(this.largestDisk, bytes);
    expect(bytes).toBeLessThanOrEqual(this.config.max_bytes);
  }

  /** Readings in = stored + acknowledged + dropped, by every account of the drops. */
  checkAccounts(): void {
    this.store.flush();
    const stored = this.store.read(0, 1_000_000);
    const stats = this.store.stats();
    const dropped = stats.dropped.full + stats.dropped.max_age;
    expect(stored.reduce((s, m) => s + m.readings, 0)).toBe(stats.readings);
    expect(stats.messages).toBe(stored.length);
    expect(stats.readings + this.acked + dropped).toBe(this.appended);
    expect(this.onDrop).toEqual(stats.dropped);
    // What the file says (meta) is what the store says.
    const onDisk = readBufferStats(this.file);
    expect(onDisk.dropped).toEqual(stats.dropped);
    expect(onDisk.readings).toBe(stats.readings);
    expect(this.logs.lines().filter((l) => l.level >= 50)).toEqual([]);
  }

  close(): void {
    this.store.close();
  }

  /**
   * Closes the store and checks the drop log seq by seq: every seq ever assigned is stored,
   * acknowledged, or named as dropped in exactly one warn line — never two of these.
   */
  closeAndCheckDroppedSeqs(): void {
    this.store.flush();
    const stored = this.store.read(0, 1_000_000).map((m) => m.seq);
    const lastSeq = this.store.stats().last_seq;
    this.store.close();
    const named = this.logs.lines().filter((l) => l.level === 40 && typeof l.seqs === 'string').flatMap((l) => parseRanges(l.seqs as string));
    const dropped = new Set(named);
    expect(dropped.size).toBe(named.length);
    const unaccounted: number[] = [];
    for (let seq = 1; seq <= lastSeq; seq++) {
      const ways = [stored.includes(seq), this.ackedSeqs.has(seq), dropped.has(seq)].filter(Boolean).length;
      if (ways !== 1) unaccounted.push(seq);
    }
    expect(unaccounted).toEqual([]);
    expect(Math.max(0, ...named)).toBeLessThanOrEqual(lastSeq);
  }
}

/** A seq drop_newest consumed for a message it never committed (a gap, named in the drop log). */
function droppedNewest(h: Harness, seq: number): boolean {
  return h.logs.lines().some((l) => l.level === 40 && typeof l.seqs === 'string' && parseRanges(l.seqs).includes(seq));
}

const batch = fc.record({
  sizes: fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 600 }) }, { weight: 1, arbitrary: fc.integer({ min: 3000, max: 12_000 }) }), { minLength: 1, maxLength: 60 }),
  readings: fc.integer({ min: 1, max: 20 }),
  ack: fc.nat(40),
  reopen: fc.boolean(),
});

describe('max_bytes', () => {
  it('drop_oldest: never above the cap; the oldest go, counted; the newest stay', () => {
    fc.assert(
      fc.property(fc.array(batch, { minLength: 15, maxLength: 40 }), (batches) => {
        const h = new Harness(bufferConfig({ max_bytes: CAP, when_full: 'drop_oldest' }));
        let last: NewMessage | undefined;
        for (const b of batches) {
          for (const size of b.sizes) last = h.append(size, b.readings);
          h.flush();
          // The newest message always makes it in.
          expect(h.store.read(0, 1_000_000).at(-1)?.body).toBe(last?.body);
          h.ackOldest(b.ack);
          if (b.reopen && b.ack % 4 === 0) h.reopen();
        }
        h.checkAccounts();
        // Dropped messages are older than every stored one.
        const stored = h.store.read(0, 1_000_000).map((m) => m.seq);
        const lastSeq = h.store.stats().last_seq;
        const kept = new Set(stored);
        for (let seq = 1; seq <= lastSeq; seq++) {
          if (!kept.has(seq) && !h.ackedSeqs.has(seq)) expect(seq).toBeLessThan(stored[0]);
        }
        h.closeAndCheckDroppedSeqs();
        h.checkDisk();
      }),
      { numRuns: 8 },
    );
  }, 60_000);

  it('drop_newest: never above the cap; what does not fit is discarded, committed messages stay', () => {
    fc.assert(
      fc.property(fc.array(batch, { minLength: 15, maxLength: 40 }), (batches) => {
        const h = new Harness(bufferConfig({ max_bytes: CAP, when_full: 'drop_newest' }));
        for (const b of batches) {
          for (const size of b.sizes) h.append(size, b.readings);
          h.flush();
          h.ackOldest(b.ack);
          if (b.reopen && b.ack % 4 === 0) h.reopen();
        }
        h.checkAccounts();
        // Nothing committed is ever dropped: every seq assigned is stored or was acknowledged.
        const stored = new Set(h.store.read(0, 1_000_000).map((m) => m.seq));
        for (let seq = 1; seq <= h.store.stats().last_seq; seq++) expect(stored.has(seq) || h.ackedSeqs.has(seq) || droppedNewest(h, seq)).toBe(true);
        h.closeAndCheckDroppedSeqs();
      }),
      { numRuns: 8 },
    );
  }, 60_000);

  it('fills the cap: close to max_bytes is used, and drops are logged at most once per 10 s', () => {
    const h = new Harness(bufferConfig({ max_bytes: CAP, when_full: 'drop_oldest' }));
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 20; i++) h.append(200, 3);
      h.flush();
    }
    h.checkAccounts();
    expect(h.onDrop.full).toBeGreaterThan(0);
    // The cap is a cap, not a target far below it: most of it holds messages.
    expect(h.store.stats().readings * 220).toBeGreaterThan(CAP / 3);
    expect(h.largestDisk).toBeGreaterThan(CAP / 2);
    const warns = h.logs.lines().filter((l) => l.level === 40 && l.reason === 'full');
    expect(warns).toHaveLength(1);
    expect(warns[0].msg).toMatch(/dropped \d+ readings/);
    h.close();
    // close() logs what the open window held: every dropped reading appears in a warn line.
    const logged = h.logs.lines().filter((l) => l.level === 40 && l.reason === 'full').reduce((s, l) => s + (l.readings as number), 0);
    expect(logged).toBe(h.onDrop.full);
  });

  it('a message larger than the whole buffer is dropped and counted; the rest go on', () => {
    for (const when_full of ['drop_oldest', 'drop_newest'] as const) {
      const h = new Harness(bufferConfig({ max_bytes: CAP, when_full }));
      h.append(10, 1);
      h.append(400_000, 7);
      h.append(10, 1);
      h.flush();
      // The dropped message keeps its seq (2): upstream the loss is a visible gap.
      expect(h.store.read(0, 10).map((m) => m.seq)).toEqual([1, 3]);
      expect(h.store.stats().dropped.full).toBe(7);
      h.checkAccounts();
      h.close();
    }
  });

  it('a cap lowered since the file grew: oldest dropped at open, file compacted under the new cap', () => {
    const h = new Harness(bufferConfig({ max_bytes: 4 * 2 ** 20 }));
    for (let i = 0; i < 4000; i++) h.append(300, 1);
    h.flush();
    h.close();
    expect(diskBytes(h.file)).toBeGreaterThan(CAP);
    const logs = captureLog();
    const store = openBuffer({ path: h.file, config: bufferConfig({ max_bytes: CAP }), log: logs.log });
    expect(diskBytes(h.file)).toBeLessThanOrEqual(CAP);
    const stats = store.stats();
    expect(stats.dropped.full + stats.readings).toBe(4000);
    expect(stats.dropped.full).toBeGreaterThan(0);
    // The newest survive.
    expect(store.read(stats.last_seq - 1, 1)[0]?.seq).toBe(4000);
    expect(logs.lines().some((l) => l.level === 40 && /larger than buffer.max_bytes/.test(l.msg))).toBe(true);
    store.close();
  });

  it('refuses a cap too small to work with', () => {
    expect(() => openBuffer({ path: path.join(tempDir(), 'b.db'), config: bufferConfig({ max_bytes: 100_000 }), log: captureLog().log })).toThrow(/at least/);
  });
});

describe('max_age', () => {
  it('drops messages older than max_age from the head, counted; fresh ones stay', () => {
    let clock = Date.parse('2025-01-01T00:00:00Z');
    const h = new Harness(bufferConfig({ max_age: 60_000 }), () => clock);
    for (let i = 0; i < 10; i++) h.append(50, 2); // ts = clock
    h.flush();
    clock += 30_000;
    for (let i = 0; i < 5; i++) h.append(50, 3);
    h.flush();
    expect(h.store.stats()).toMatchObject({ messages: 15, dropped: { max_age: 0 } });
    clock += 40_000; // the first ten are 70 s old now, the others 40 s
    h.flush(); // nothing queued: the age check alone
    expect(h.store.stats()).toMatchObject({ messages: 5, readings: 15, dropped: { max_age: 20, full: 0 } });
    expect(h.store.read(0, 100).map((m) => m.seq)).toEqual([11, 12, 13, 14, 15]);
    expect(h.store.stats().oldest_ts).toBe(clock - 40_000);
    // Already too old when appended: dropped at commit, its seq (16) consumed so the loss shows.
    h.append(50, 4, clock - 61_000);
    h.append(50, 1);
    h.flush();
    expect(h.store.read(15, 100).map((m) => m.seq)).toEqual([17]);
    expect(h.store.stats().dropped.max_age).toBe(24);
    h.checkAccounts();
    expect(h.logs.lines().filter((l) => l.level === 40 && l.reason === 'max_age')).toHaveLength(1);
    h.close();
  });

  it('checks at most every few seconds', () => {
    let clock = Date.parse('2025-01-01T00:00:00Z');
    const h = new Harness(bufferConfig({ max_age: 1000 }), () => clock);
    h.append(10, 1);
    h.flush(); // the first commit runs the check; the next is due 5 s later
    clock += 2000;
    h.append(10, 1);
    h.flush();
    expect(h.store.stats().messages).toBe(2);
    clock += 4000;
    h.flush();
    expect(h.store.stats()).toMatchObject({ messages: 0, dropped: { max_age: 2 } });
    h.close();
  });
});
