/**
 * Modbus TCP response handling under mutated replies. A raw TCP "device" answers every request
 * with the correct reply — then bent by a few random mutations (bits flipped, bytes overwritten,
 * cut short, lengthened, a field rewritten, the frame sent twice) and delivered in random chunks
 * with random pauses. Unlike test/drivers/modbus/faults.test.ts (random bytes), these replies
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
import { group, mtag, never, tcpDevice, testContext } from '../drivers/modbus/helpers.js';
import { expectLinkLoss, expectWellFormed } from './readings.js';

const TAGS = [
  mtag({ name: 'f', area: 'holding', address: 0, type: 'float32' }),
  mtag({ name: 's', area: 'holding', address: 2, type: 'string', length: 3 }),
  mtag({ name: 'c', area: 'coil', address: 5, type: 'bool' }),
  mtag({ name: 'q', area: 'input', address: 10, type: 'int64' }),
  mtag({ name: 'w', area: 'input', address: 14, type: 'bool', bit: 3 }),
];
const TIMEOUT_MS = 150;

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'field'; field: 'tid' | 'protocol' | 'length' | 'unit' | 'fc' | 'count'; value: number }
  | { kind: 'twice' };

interface Case {
  readonly mutations: Mutation[];
  /** Chunk sizes the reply is cut into (the rest goes in one piece). */
  readonly chunks: number[];
  readonly pauseMs: number;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(40), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(40), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(30) }),
  fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({
    kind: fc.constant('field' as const),
    field: fc.constantFrom('tid', 'protocol', 'length', 'unit', 'fc', 'count') as fc.Arbitrary<'tid' | 'protocol' | 'length' | 'unit' | 'fc' | 'count'>,
    value: fc.oneof(fc.nat(0xffff), fc.constantFrom(0, 1, 2, 3, 0x81, 0x83, 0xff, 254, 255, 256)),
  }),
  fc.constant({ kind: 'twice' as const }),
);

const caseArb: fc.Arbitrary<Case> = fc.record({
  mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
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

function mutate(frame: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(frame);
  for (const m of mutations) {
    switch (m.kind) {
      case 'flip': if (m.at < out.length) out[m.at] ^= 1 << m.bit; break;
      case 'set': if (m.at < out.length) out[m.at] = m.value; break;
      case 'truncate': out = out.subarray(0, Math.min(m.at, out.length)); break;
      case 'extend': out = Buffer.concat([out, m.bytes]); break;
      case 'twice': out = Buffer.concat([out, out]); break;
      case 'field': {
        const at = { tid: 0, protocol: 2, length: 4, unit: 6, fc: 7, count: 8 }[m.field];
        if (m.field === 'unit' || m.field === 'fc' || m.field === 'count') {
          if (at < out.length) out[at] = m.value & 0xff;
        } else if (at + 2 <= out.length) {
          out.writeUInt16BE(m.value, at);
        }
        break;
      }
    }
  }
  return out;
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
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 12) {
        const req = pending.subarray(0, 12);
        pending = pending.subarray(12);
        void send(sock, current ? mutate(reply(req), current.mutations) : reply(req), current);
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

async function send(sock: net.Socket, bytes: Buffer, c: Case | null): Promise<void> {
  let rest = bytes;
  for (const size of c?.chunks ?? []) {
    if (rest.length === 0 || sock.destroyed) return;
    sock.write(rest.subarray(0, size));
    rest = rest.subarray(size);
    await new Promise((r) => setTimeout(r, c!.pauseMs));
  }
  if (rest.length > 0 && !sock.destroyed) sock.write(rest);
}

async function readOnce(): Promise<{ ms: number }> {
  const device = tcpDevice(port, TAGS, { timeout: TIMEOUT_MS });
  const driver = new ModbusDriver(device, testContext(), (signal) => openTcpLink(device, signal));
  await driver.connect(never);
  const t0 = Date.now();
  try {
    expectWellFormed(await driver.read(group(TAGS), never), TAGS);
  } catch (err) {
    // An assertion failure is the test failing, not the driver rejecting.
    if ((err as Error).name === 'AssertionError') throw err;
    expectLinkLoss(err);
  } finally {
    await driver.close();
  }
  return { ms: Date.now() - t0 };
}

describe('fuzz: Modbus TCP replies, mutated', () => {
  it('an honest device reads every tag good (the harness works)', async () => {
    current = null;
    const device = tcpDevice(port, TAGS, { timeout: TIMEOUT_MS });
    const driver = new ModbusDriver(device, testContext(), (signal) => openTcpLink(device, signal));
    await driver.connect(never);
    const readings = await driver.read(group(TAGS), never);
    await driver.close();
    expect(readings.every((r) => r.quality === 'good')).toBe(true);
    // The string's registers are the 3rd to 5th of the merged read: bytes E..J.
    expect(readings.find((r) => r.tag === 's')?.value).toBe('EFGHIJ');
  });

  it('any mutation, any chunking: well-formed readings or a lost connection, within the bound; then a clean read', async () => {
    let slowest = 0;
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      current = c;
      const { ms } = await readOnce();
      slowest = Math.max(slowest, ms);
      // Three requests; after a timeout the driver stops asking for the rest of the poll.
      expect(ms).toBeLessThan(4 * TIMEOUT_MS + 500);
      current = null;
      await readOnce();
    }), { numRuns: 60 });
    console.log(`[fuzz] modbus tcp: 60 mutated cases, slowest read ${slowest} ms`);
  }, 60_000);
});
