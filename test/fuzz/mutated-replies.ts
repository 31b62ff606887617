/**
 * The harness of the Modbus reply fuzzers (modbus-tcp.test.ts, modbus-rtu.test.ts): a device
 * answers each request with the correct reply bent by random mutations and delivered in random
 * chunks; every case is read once through a fresh driver, within a bound, and then the honest
 * device must be read cleanly. Each transport brings its own framing (reply, header fields)
 * and its own line.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { group, never, sleep } from '../../drivers/modbus/test/helpers.js';
import { expectLinkLoss, expectWellFormed } from './readings.js';

type Tags = Parameters<typeof expectWellFormed>[1];
type Readings = Parameters<typeof expectWellFormed>[0];

/** The driver surface one poll uses. */
export interface FuzzedDriver {
  connect(signal: AbortSignal): Promise<void>;
  read(tags: ReturnType<typeof group>, signal: AbortSignal): Promise<Readings>;
  close(): Promise<void>;
}

/** A change to a reply's bytes; `field` is a header field, named the way its framing names it. */
export type Mutation<Field> =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'field'; field: Field; value: number }
  | { kind: 'twice' };

export interface MutationSpace<Field> {
  /** Highest byte offset a flip or set aims at (past the end: no change). */
  readonly maxAt: number;
  readonly maxTruncateAt: number;
  readonly maxExtendBytes: number;
  readonly field: fc.Arbitrary<Field>;
  readonly fieldValue: fc.Arbitrary<number>;
}

export function mutationArb<Field>(space: MutationSpace<Field>): fc.Arbitrary<Mutation<Field>> {
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(space.maxAt), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(space.maxAt), value: fc.nat(255) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(space.maxTruncateAt) }),
    fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: space.maxExtendBytes }) }),
    fc.record({ kind: fc.constant('field' as const), field: space.field, value: space.fieldValue }),
    fc.constant({ kind: 'twice' as const }),
  );
}

/** The frame with the mutations applied in order; setField writes a header field in place. */
export function applyMutations<Field>(
  frame: Buffer, mutations: readonly Mutation<Field>[], setField: (out: Buffer, field: Field, value: number) => void,
): Buffer {
  let out = Buffer.from(frame);
  for (const m of mutations) {
    switch (m.kind) {
      case 'flip': if (m.at < out.length) out[m.at] ^= 1 << m.bit; break;
      case 'set': if (m.at < out.length) out[m.at] = m.value; break;
      case 'truncate': out = out.subarray(0, Math.min(m.at, out.length)); break;
      case 'extend': out = Buffer.concat([out, m.bytes]); break;
      case 'twice': out = Buffer.concat([out, out]); break;
      case 'field': setField(out, m.field, m.value); break;
    }
  }
  return out;
}

/**
 * Sends the bytes in pieces of the given sizes, pauseMs apart, the rest in one piece. write()
 * returns false once the line is gone, which ends the delivery.
 */
export async function deliverInChunks(
  bytes: Buffer, chunks: readonly number[], pauseMs: number, write: (chunk: Buffer) => Promise<boolean>,
): Promise<void> {
  let rest = bytes;
  for (const size of chunks) {
    if (rest.length === 0 || !(await write(rest.subarray(0, size)))) return;
    rest = rest.subarray(size);
    await sleep(pauseMs);
  }
  if (rest.length > 0) await write(rest);
}

/**
 * One poll through a fresh driver: one well-formed reading per tag, or a rejection saying the
 * link is gone. Resolves with how long the read took and whether every tag was good.
 */
export async function readOnce(driver: FuzzedDriver, tags: Tags): Promise<{ ms: number; good: boolean }> {
  await driver.connect(never);
  const t0 = Date.now();
  let good = false;
  try {
    const readings = await driver.read(group(tags), never);
    expectWellFormed(readings, tags);
    good = readings.every((r) => r.quality === 'good');
  } catch (err) {
    // An assertion failure is the test failing, not the driver rejecting.
    if ((err as Error).name === 'AssertionError') throw err;
    expectLinkLoss(err);
  } finally {
    await driver.close();
  }
  return { ms: Date.now() - t0, good };
}

export interface FuzzRun<Case> {
  /** Printed with the slowest read, e.g. 'modbus tcp'. */
  readonly label: string;
  readonly cases: fc.Arbitrary<Case>;
  readonly numRuns: number;
  /** How the device answers from now on: bent by this case, or honestly (null). */
  play(c: Case | null): void;
  /** readOnce() through a fresh driver on this transport. */
  read(): Promise<{ ms: number; good: boolean }>;
  /** No mutated read may take longer. */
  readonly maxReadMs: number;
  /** After each case, the device honest again: what the line must give the next read. */
  afterCase(): Promise<void>;
}

/** Every case read within the bound, each followed by afterCase(); prints the slowest read. */
export async function fuzzEveryCase<Case>(run: FuzzRun<Case>): Promise<void> {
  let slowest = 0;
  await fc.assert(fc.asyncProperty(run.cases, async (c) => {
    run.play(c);
    const { ms } = await run.read();
    slowest = Math.max(slowest, ms);
    expect(ms).toBeLessThan(run.maxReadMs);
    run.play(null);
    await run.afterCase();
  }), { numRuns: run.numRuns });
  console.log(`[fuzz] ${run.label}: ${run.numRuns} mutated cases, slowest read ${slowest} ms`);
}
