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
import { mtag, never, sleep } from '../../drivers/modbus/test/helpers.js';
import { rtuDevice, PtyLab, testContext } from '../../drivers/modbus/test/rtu-helpers.js';
import { applyMutations, deliverInChunks, fuzzEveryCase, mutationArb, readOnce, type Mutation } from './mutated-replies.js';

const TAGS = [
  mtag({ name: 'f', area: 'holding', address: 0, type: 'float32' }),
  mtag({ name: 's', area: 'holding', address: 2, type: 'string', length: 2 }),
  mtag({ name: 'c', area: 'coil', address: 3, type: 'bool' }),
  mtag({ name: 'n', area: 'input', address: 7, type: 'int16' }),
];
const TIMEOUT_MS = 120;

/** A field is a byte offset: 0 unit, 1 function code, 2 byte count. */
type Field = 0 | 1 | 2;

interface Case {
  readonly mutations: Mutation<Field>[];
  /** Recompute the CRC after mutating, so the frame passes the CRC check. */
  readonly fixCrc: boolean;
  readonly noise: Uint8Array;
  readonly chunks: number[];
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  mutations: fc.array(mutationArb({
    maxAt: 20,
    maxTruncateAt: 12,
    maxExtendBytes: 8,
    field: fc.constantFrom<Field>(0, 1, 2),
    fieldValue: fc.oneof(fc.nat(255), fc.constantFrom(0x81, 0x83, 0x84, 0, 2, 5, 16, 255)),
  }), { minLength: 1, maxLength: 3 }),
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
  let out = applyMutations(frame, c.mutations, (buf, at, value) => { if (at < buf.length) buf[at] = value; });
  if (c.fixCrc && out.length >= 4) {
    const body = out.subarray(0, -2);
    out = Buffer.concat([body, Buffer.from([crc16(body) & 0xff, crc16(body) >> 8])]);
  }
  return Buffer.concat([c.noise, out]);
}

const lab = new PtyLab();
let slave: OpenSerial;
let current: Case | null = null;

/** The slave's end of the line; a failed write means the line is gone. */
const write = (chunk: Buffer) => slave.write(chunk).then(() => true, () => false);

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
        void (current ? deliverInChunks(mutate(reply(req), current), current.chunks, 2, write) : write(reply(req)));
      }
    },
    onLost: () => undefined,
  });
});

afterAll(async () => {
  await slave?.close();
  await lab.cleanup();
});

function newDriver(): ModbusDriver {
  const device = rtuDevice(lab.dev, TAGS, { timeout: TIMEOUT_MS });
  const ctx = testContext();
  // A fresh unit per case: no dead-unit pause carried over from the case before.
  return new ModbusDriver(device, ctx, new RtuUnit(device, ctx.log, { deadUnitMinMs: 10_000 }).open);
}

describe('fuzz: Modbus RTU replies, mutated, on a pty', () => {
  it('an honest slave reads every tag good (the harness works)', async () => {
    current = null;
    expect((await readOnce(newDriver(), TAGS)).good).toBe(true);
  });

  it('any mutation, with or without a valid CRC, noise, chunking: well-formed readings within the bound; then a clean read', async () => {
    await fuzzEveryCase({
      label: 'modbus rtu',
      cases: caseArb,
      numRuns: 50,
      play: (c) => { current = c; },
      read: () => readOnce(newDriver(), TAGS),
      // Three requests; a timeout silences the rest of the poll; garbage costs a resync pause.
      maxReadMs: 3 * TIMEOUT_MS + 500,
      afterCase: async () => {
        // What the case left on the line (a late tail, noise) must not spoil the next exchange.
        await sleep(30);
        expect((await readOnce(newDriver(), TAGS)).good).toBe(true);
      },
    });
  }, 60_000);
});
