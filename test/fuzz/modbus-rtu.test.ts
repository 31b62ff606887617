/**
 * The Modbus RTU master (rtu-bus.ts framing, rtu-frame.ts checks, the driver's decoding) under
 * mutated replies on a real pseudo-terminal: a slave on the other end answers every request
 * with the correct reply, bent by random mutations (bits flipped, bytes overwritten, cut short,
 * lengthened, unit/function/byte count rewritten, sent twice), half the time with the CRC made
 * right again afterwards so the mutation reaches the checks behind the CRC, sometimes with noise
 * in front, delivered in random chunks.
 *
 * For every case: read() resolves with one well-formed reading per tag or rejects saying the
 * line is gone, within a bound, nothing escapes uncaught, and an honest slave is then read
 * cleanly over the same line.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusDriver } from '../../drivers/modbus/driver.js';
import { RtuUnit } from '../../drivers/modbus/rtu-link.js';
import { crc16, requestLength, withCrc } from '../../drivers/modbus/rtu-frame.js';
import { openSerialPort, type OpenSerial } from '../../src/serial/open-port.js';
import { group, mtag, never } from '../drivers/modbus/helpers.js';
import { rtuDevice, PtyLab, testContext } from '../drivers/modbus/rtu-helpers.js';
import { expectLinkLoss, expectWellFormed } from './readings.js';

const TAGS = [
  mtag({ name: 'f', area: 'holding', address: 0, type: 'float32' }),
  mtag({ name: 's', area: 'holding', address: 2, type: 'string', length: 2 }),
  mtag({ name: 'c', area: 'coil', address: 3, type: 'bool' }),
  mtag({ name: 'n', area: 'input', address: 7, type: 'int16' }),
];
const TIMEOUT_MS = 120;

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'field'; at: 0 | 1 | 2; value: number }
  | { kind: 'twice' };

interface Case {
  readonly mutations: Mutation[];
  /** Recompute the CRC after mutating, so the frame passes the CRC check. */
  readonly fixCrc: boolean;
  readonly noise: Uint8Array;
  readonly chunks: number[];
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  mutations: fc.array(fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(20), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(20), value: fc.nat(255) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(12) }),
    fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({
      kind: fc.constant('field' as const),
      at: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
      value: fc.oneof(fc.nat(255), fc.constantFrom(0x81, 0x83, 0x84, 0, 2, 5, 16, 255)),
    }),
    fc.constant({ kind: 'twice' as const }),
  ), { minLength: 1, maxLength: 3 }),
  fixCrc: fc.boolean(),
  noise: fc.oneof(fc.constant(new Uint8Array()), fc.uint8Array({ minLength: 1, maxLength: 6 })),
  chunks: fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 3 }),
});

/** The honest reply of unit 1 to a read request (FC 1–4). */
function reply(req: Buffer): Buffer {
  const fcode = req[1];
  const count = req.readUInt16BE(4);
  const data = fcode <= 2 ? Buffer.alloc(Math.ceil(count / 8), 0x5a) : Buffer.from(Array.from({ length: count * 2 }, (_, i) => 0x61 + (i % 26)));
  return withCrc(Buffer.concat([Buffer.from([req[0], fcode, data.length]), data]));
}

function mutate(frame: Buffer, c: Case): Buffer {
  let body = frame.subarray(0, -2);
  let out = Buffer.from(frame);
  for (const m of c.mutations) {
    switch (m.kind) {
      case 'flip': if (m.at < out.length) out[m.at] ^= 1 << m.bit; break;
      case 'set': if (m.at < out.length) out[m.at] = m.value; break;
      case 'truncate': out = out.subarray(0, Math.min(m.at, out.length)); break;
      case 'extend': out = Buffer.concat([out, m.bytes]); break;
      case 'twice': out = Buffer.concat([out, out]); break;
      case 'field': if (m.at < out.length) out[m.at] = m.value; break;
    }
  }
  if (c.fixCrc && out.length >= 4) {
    body = out.subarray(0, -2);
    out = Buffer.concat([body, Buffer.from([crc16(body) & 0xff, crc16(body) >> 8])]);
  }
  return Buffer.concat([c.noise, out]);
}

const lab = new PtyLab();
let slave: OpenSerial;
let current: Case | null = null;

beforeAll(async () => {
  await lab.pair();
  let pending = Buffer.alloc(0);
  slave = await openSerialPort({ port: lab.peer, baud_rate: 9600, parity: 'none', data_bits: 8, stop_bits: 1 }, never, {
    onData: (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const length = requestLength(pending);
        if (length === null) { pending = Buffer.alloc(0); return; }
        if (length === undefined || pending.length < length) return;
        const req = pending.subarray(0, length);
        pending = pending.subarray(length);
        void answer(current ? mutate(reply(req), current) : reply(req), current);
      }
    },
    onLost: () => undefined,
  });
});

afterAll(async () => {
  await slave?.close();
  await lab.cleanup();
});

async function answer(bytes: Buffer, c: Case | null): Promise<void> {
  let rest = bytes;
  for (const size of c?.chunks ?? []) {
    if (rest.length === 0) return;
    await slave.write(rest.subarray(0, size));
    rest = rest.subarray(size);
    await new Promise((r) => setTimeout(r, 2));
  }
  if (rest.length > 0) await slave.write(rest).catch(() => undefined);
}

async function readOnce(): Promise<{ ms: number; good: boolean }> {
  const device = rtuDevice(lab.dev, TAGS, { timeout: TIMEOUT_MS });
  const ctx = testContext();
  // A fresh unit per case: no dead-unit pause carried over from the case before.
  const driver = new ModbusDriver(device, ctx, new RtuUnit(device, ctx.log, { deadUnitMinMs: 10_000 }).open);
  await driver.connect(never);
  const t0 = Date.now();
  let good = false;
  try {
    const readings = await driver.read(group(TAGS), never);
    expectWellFormed(readings, TAGS);
    good = readings.every((r) => r.quality === 'good');
  } catch (err) {
    if ((err as Error).name === 'AssertionError') throw err;
    expectLinkLoss(err);
  } finally {
    await driver.close();
  }
  return { ms: Date.now() - t0, good };
}

describe('fuzz: Modbus RTU replies, mutated, on a pty', () => {
  it('an honest slave reads every tag good (the harness works)', async () => {
    current = null;
    expect((await readOnce()).good).toBe(true);
  });

  it('any mutation, with or without a valid CRC, noise, chunking: well-formed readings within the bound; then a clean read', async () => {
    let slowest = 0;
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      current = c;
      const { ms } = await readOnce();
      slowest = Math.max(slowest, ms);
      // Three requests; a timeout silences the rest of the poll; garbage costs a resync pause.
      expect(ms).toBeLessThan(3 * TIMEOUT_MS + 500);
      current = null;
      // What the case left on the line (a late tail, noise) must not spoil the next exchange.
      await new Promise((r) => setTimeout(r, 30));
      expect((await readOnce()).good).toBe(true);
    }), { numRuns: 50 });
    console.log(`[fuzz] modbus rtu: 50 mutated cases, slowest read ${slowest} ms`);
  }, 60_000);
});
