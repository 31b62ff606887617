/**
 * Model-based test: random sequences of append / flush / read / ack / reopen / crash drive the
 * real buffer and a plain in-memory model side by side; they must agree after every step.
 *
 * A crash is the files as a kill -9 would leave them: the database and its WAL are copied
 * between two operations (every commit is in them by then; -shm is not copied, so SQLite must
 * recover the WAL) and the buffer is reopened on the copy. The old handle is closed only
 * afterwards, on its own files, so nothing it does reaches the copy.
 * test/buffer/crash.test.ts kills a real process with SIGKILL.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { seqFloorPath } from '../../src/buffer/seq-floor.js';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import type { MessageStore, NewMessage, StoredMessage } from '../../src/buffer/types.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

class Model {
  /** Appended since the last commit. */
  pending: NewMessage[] = [];
  /** Committed and not deleted, in seq order. */
  stored: StoredMessage[] = [];
  /** Acknowledged since the last commit. */
  acked = new Set<number>();
  lastSeq = 0;

  commit(): void {
    this.stored = this.stored.filter((m) => !this.acked.has(m.seq));
    this.acked.clear();
    for (const m of this.pending) this.stored.push({ ...m, seq: ++this.lastSeq });
    this.pending = [];
  }

  crash(): void {
    // Uncommitted appends are lost; acks not yet committed were never durable: redelivery.
    this.pending = [];
    this.acked.clear();
  }

  visible(after: number, limit: number): StoredMessage[] {
    return this.stored.filter((m) => m.seq > after && !this.acked.has(m.seq)).slice(0, limit);
  }
}

class Real {
  store: MessageStore;
  file: string;
  private readonly log = captureLog().log;
  private readonly handles: MessageStore[] = [];

  constructor() {
    this.file = path.join(tempDir(), 'data', 'buffer.db');
    this.store = this.open();
  }

  open(): MessageStore {
    const store = openBuffer({ path: this.file, config: bufferConfig(), log: this.log });
    this.handles.push(store);
    return store;
  }

  reopen(): void {
    this.store.close();
    this.store = this.open();
  }

  crash(): void {
    const copy = path.join(tempDir(), 'buffer.db');
    fs.copyFileSync(this.file, copy);
    if (fs.existsSync(`${this.file}-wal`)) fs.copyFileSync(`${this.file}-wal`, `${copy}-wal`);
    // The seq floor beside it is part of what a kill -9 leaves (src/buffer/seq-floor.ts).
    fs.copyFileSync(seqFloorPath(this.file), seqFloorPath(copy));
    const dead = this.store;
    this.file = copy;
    this.store = this.open();
    dead.close();
  }

  closeAll(): void {
    for (const h of this.handles) h.close();
  }
}

type Cmd = fc.Command<Model, Real>;

const plain = (m: StoredMessage) => ({ seq: m.seq, device: m.device, tag: m.tag, body: m.body, readings: m.readings, ts: m.ts });

/** Full agreement: contents, order, counters, last seq. */
function agree(model: Model, real: Real): void {
  expect(real.store.read(0, 1_000_000).map(plain)).toEqual(model.visible(0, 1_000_000).map(plain));
  const stats = real.store.stats();
  expect(stats.last_seq).toBe(model.lastSeq);
  expect(stats.messages).toBe(model.stored.length);
  expect(stats.readings).toBe(model.stored.reduce((sum, m) => sum + m.readings, 0));
  expect(stats.oldest_ts).toBe(model.stored[0]?.ts ?? null);
  expect(stats.newest_ts).toBe(model.stored.at(-1)?.ts ?? null);
  expect(stats.dropped).toEqual({ full: 0, max_age: 0 });
}

class Append implements Cmd {
  constructor(readonly message: NewMessage) {}
  check = () => true;
  run(model: Model, real: Real): void {
    model.pending.push(this.message);
    real.store.append(this.message);
  }
  toString = () => `append(${JSON.stringify(this.message)})`;
}

class AppendMany implements Cmd {
  constructor(readonly messages: NewMessage[]) {}
  check = () => true;
  run(model: Model, real: Real): void {
    for (const m of this.messages) new Append(m).run(model, real);
  }
  toString = () => `append ${this.messages.length} messages`;
}

class Flush implements Cmd {
  check = () => true;
  run(model: Model, real: Real): void {
    const before = model.lastSeq;
    let notified: number | undefined;
    const off = real.store.onCommit((seq) => (notified = seq));
    model.commit();
    real.store.flush();
    off();
    // Listeners hear of commits that added messages, with the highest seq.
    expect(notified).toBe(model.lastSeq > before ? model.lastSeq : undefined);
    agree(model, real);
  }
  toString = () => 'flush';
}

class Read implements Cmd {
  constructor(readonly pick: number, readonly limit: number) {}
  check = () => true;
  run(model: Model, real: Real): void {
    // `after` is a stored seq, or one past the ends (pick beyond the list means lastSeq + 1).
    const seqs = model.stored.map((m) => m.seq);
    const after = this.pick < seqs.length ? seqs[this.pick] - (this.pick % 2) : model.lastSeq + 1 - (this.pick % 3);
    expect(real.store.read(after, this.limit).map(plain)).toEqual(model.visible(after, this.limit).map(plain));
  }
  toString = () => `read(pick ${this.pick}, ${this.limit})`;
}

class Ack implements Cmd {
  constructor(readonly pick: number, readonly count: number) {}
  check = () => true;
  run(model: Model, real: Real): void {
    const seqs = model.stored.map((m) => m.seq);
    if (this.pick >= seqs.length) {
      // Unknown seqs are ignored: never assigned, zero, or already deleted.
      for (const seq of [model.lastSeq + 1 + this.pick, 0, -3, 1.5]) real.store.ack(seq);
      return;
    }
    for (const seq of seqs.slice(this.pick, this.pick + this.count)) {
      model.acked.add(seq);
      real.store.ack(seq);
    }
  }
  toString = () => `ack(pick ${this.pick}, ${this.count})`;
}

class Reopen implements Cmd {
  check = () => true;
  run(model: Model, real: Real): void {
    model.commit(); // close() commits what is pending
    real.reopen();
    agree(model, real);
  }
  toString = () => 'reopen';
}

class Crash implements Cmd {
  check = () => true;
  run(model: Model, real: Real): void {
    model.crash();
    real.crash();
    agree(model, real);
  }
  toString = () => 'crash';
}

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
const message: fc.Arbitrary<NewMessage> = fc.record({
  device: fc.constantFrom('press-1', 'oven-2', 'Kühlung-3'),
  tag: fc.option(text, { nil: null }),
  body: fc.oneof(text, fc.string({ minLength: 200, maxLength: 6000 })),
  readings: fc.integer({ min: 1, max: 50 }),
  ts: fc.integer({ min: Date.now() - 86_400_000, max: Date.now() }),
});

const commands = [
  fc.oneof(
    { weight: 4, arbitrary: message.map((m) => new Append(m)) },
    { weight: 2, arbitrary: fc.array(message, { minLength: 2, maxLength: 40 }).map((ms) => new AppendMany(ms)) },
    { weight: 3, arbitrary: fc.constant(new Flush()) },
    { weight: 3, arbitrary: fc.tuple(fc.nat(40), fc.integer({ min: 1, max: 20 })).map(([p, l]) => new Read(p, l)) },
    { weight: 3, arbitrary: fc.tuple(fc.nat(40), fc.integer({ min: 1, max: 15 })).map(([p, c]) => new Ack(p, c)) },
    { weight: 1, arbitrary: fc.constant(new Reopen()) },
    { weight: 1, arbitrary: fc.constant(new Crash()) },
  ),
];

describe('buffer against a model', () => {
  it('agrees after every append, flush, read, ack, reopen and crash', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 60, size: 'max' }), (cmds) => {
        const real = new Real();
        try {
          fc.modelRun(() => ({ model: new Model(), real }), cmds);
        } finally {
          real.closeAll();
        }
      }),
      { numRuns: 40 },
    );
  }, 60_000);

  it('never reuses a seq, even after every message was acknowledged and deleted', () => {
    const real = new Real();
    const m: NewMessage = { device: 'press-1', tag: null, body: '{}', readings: 1, ts: Date.now() };
    for (let i = 0; i < 3; i++) real.store.append(m);
    real.store.flush();
    for (const s of real.store.read(0, 10)) real.store.ack(s.seq);
    real.store.flush();
    expect(real.store.stats()).toMatchObject({ messages: 0, last_seq: 3 });
    real.crash();
    real.reopen();
    real.store.append(m);
    real.store.flush();
    expect(real.store.read(0, 10).map((s) => s.seq)).toEqual([4]);
    real.closeAll();
  });
});
