/**
 * Modbus TCP response handling under mutated replies. A raw TCP "device" answers every request
 * with the correct reply — then bent by a few random mutations (bits flipped, bytes overwritten,
 * cut short, lengthened, a field rewritten, the frame sent twice) and delivered in random chunks
 * with random pauses. Unlike drivers/modbus/test/faults.test.ts (random bytes), these replies
 * are mostly well framed, so they reach the reply checks (pdu.ts) and the driver's decoding.
 *
 * For every case, through the real driver on a real socket: read() resolves with one
 * well-formed reading per tag or rejects saying the connection is gone, within a bound; nothing
 * escapes as an uncaught error (vitest fails the run on one); and a fresh connection to an
 * honest device then reads every tag good.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusDriver } from '../../drivers/modbus/driver.js';
import { openTcpLink } from '../../drivers/modbus/tcp-link.js';
import { group, mtag, never, tcpDevice, testContext } from '../../drivers/modbus/test/helpers.js';
import { applyMutations, deliverInChunks, fuzzEveryCase, mutationArb, readOnce, type Mutation } from './mutated-replies.js';

const TAGS = [
  mtag({ name: 'f', area: 'holding', address: 0, type: 'float32' }),
  mtag({ name: 's', area: 'holding', address: 2, type: 'string', length: 3 }),
  mtag({ name: 'c', area: 'coil', address: 5, type: 'bool' }),
  mtag({ name: 'q', area: 'input', address: 10, type: 'int64' }),
  mtag({ name: 'w', area: 'input', address: 14, type: 'bool', bit: 3 }),
];
const TIMEOUT_MS = 150;

type Field = 'tid' | 'protocol' | 'length' | 'unit' | 'fc' | 'count';
/** Where each MBAP header and PDU field starts. */
const FIELD_AT: Record<Field, number> = { tid: 0, protocol: 2, length: 4, unit: 6, fc: 7, count: 8 };

interface Case {
  readonly mutations: Mutation<Field>[];
  /** Chunk sizes the reply is cut into (the rest goes in one piece). */
  readonly chunks: number[];
  readonly pauseMs: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  mutations: fc.array(mutationArb({
    maxAt: 40,
    maxTruncateAt: 30,
    maxExtendBytes: 12,
    field: fc.constantFrom(...(Object.keys(FIELD_AT) as Field[])),
    fieldValue: fc.oneof(fc.nat(0xffff), fc.constantFrom(0, 1, 2, 3, 0x81, 0x83, 0xff, 254, 255, 256)),
  }), { minLength: 1, maxLength: 4 }),
  chunks: fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 4 }),
  pauseMs: fc.integer({ min: 0, max: 20 }),
});

/** The honest reply to one request (FC 1–4), as the simulator would send it. */
function reply(req: Buffer): Buffer {
  const fcode = req[7];
  const count = req.readUInt16BE(10);
  const data = fcode <= 2 ? Buffer.alloc(Math.ceil(count / 8), 0xa5) : Buffer.from(Array.from({ length: count * 2 }, (_, i) => 0x41 + (i % 26)));
  const frame = Buffer.alloc(9 + data.length);
  req.copy(frame, 0, 0, 4); // transaction and protocol id
  frame.writeUInt16BE(3 + data.length, 4);
  frame[6] = req[6];
  frame[7] = fcode;
  frame[8] = data.length;
  data.copy(frame, 9);
  return frame;
}

/** Unit, function code and byte count are one byte each; the MBAP ids and length two. */
function setField(out: Buffer, field: Field, value: number): void {
  const at = FIELD_AT[field];
  if (field === 'unit' || field === 'fc' || field === 'count') {
    if (at < out.length) out[at] = value & 0xff;
  } else if (at + 2 <= out.length) {
    out.writeUInt16BE(value, at);
  }
}

const sockets = new Set<net.Socket>();
let server: net.Server;
let port = 0;
/** What the device does with the next reply; null: answer honestly. */
let current: Case | null = null;

beforeAll(async () => {
  server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    const write = async (chunk: Buffer) => {
      if (sock.destroyed) return false;
      sock.write(chunk);
      return true;
    };
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 12) {
        const req = pending.subarray(0, 12);
        pending = pending.subarray(12);
        void (current
          ? deliverInChunks(applyMutations(reply(req), current.mutations, setField), current.chunks, current.pauseMs, write)
          : write(reply(req)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

function newDriver(): ModbusDriver {
  const device = tcpDevice(port, TAGS, { timeout: TIMEOUT_MS });
  return new ModbusDriver(device, testContext(), (signal) => openTcpLink(device, signal));
}

describe('fuzz: Modbus TCP replies, mutated', () => {
  it('an honest device reads every tag good (the harness works)', async () => {
    current = null;
    const driver = newDriver();
    await driver.connect(never);
    const readings = await driver.read(group(TAGS), never);
    await driver.close();
    expect(readings.every((r) => r.quality === 'good')).toBe(true);
    // The string's registers are the 3rd to 5th of the merged read: bytes E..J.
    expect(readings.find((r) => r.tag === 's')?.value).toBe('EFGHIJ');
  });

  it('any mutation, any chunking: well-formed readings or a lost connection, within the bound; then a clean read', async () => {
    await fuzzEveryCase({
      label: 'modbus tcp',
      cases: caseArb,
      numRuns: 60,
      play: (c) => { current = c; },
      read: () => readOnce(newDriver(), TAGS),
      // Three requests; after a timeout the driver stops asking for the rest of the poll.
      maxReadMs: 4 * TIMEOUT_MS + 500,
      afterCase: async () => { await readOnce(newDriver(), TAGS); },
    });
  }, 60_000);
});
