/**
 * The Modbus TCP link's own MBAP framing, against a raw TCP server that answers each request
 * with bytes the test writes: requests as they go on the wire, replies cut into pieces or run
 * together, replies that do not match, and byte streams that are not Modbus TCP.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkLostError, ModbusRequestError } from '../link.js';
import { openTcpLink, type TcpLink } from '../tcp-link.js';
import { never, sleep } from './helpers.js';

type Answer = (request: Buffer, sock: net.Socket) => void;

interface Device {
  port: number;
  /** Every request frame received, in order. */
  readonly requests: Buffer[];
  answer: Answer;
}

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0).reverse()) close();
});

/** A device that frames requests by their MBAP length and hands each to `answer`. */
async function device(answer: Answer): Promise<Device> {
  const sockets = new Set<net.Socket>();
  const dev: Device = { port: 0, requests: [], answer };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 6 && pending.length >= 6 + pending.readUInt16BE(4)) {
        const request = pending.subarray(0, 6 + pending.readUInt16BE(4));
        pending = pending.subarray(request.length);
        dev.requests.push(request);
        dev.answer(request, sock);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  dev.port = (server.address() as net.AddressInfo).port;
  return dev;
}

async function connect(dev: Device, timeout = 1000): Promise<TcpLink> {
  const link = await openTcpLink({ host: '127.0.0.1', port: dev.port, unit_id: 1, timeout }, never);
  closers.push(() => void link.close());
  return link;
}

/** A frame with `tid`, protocol 0 and a length that fits the unit id and `pdu`. */
function frame(tid: number, unit: number, pdu: readonly number[]): Buffer {
  const out = Buffer.alloc(7 + pdu.length);
  out.writeUInt16BE(tid, 0);
  out.writeUInt16BE(1 + pdu.length, 4);
  out[6] = unit;
  out.set(pdu, 7);
  return out;
}

const tidOf = (request: Buffer) => request.readUInt16BE(0);

/** The honest reply to a register read: register i holds 0x0100 + start + i. */
function registers(request: Buffer, over: { tid?: number; unit?: number; fc?: number } = {}): Buffer {
  const start = request.readUInt16BE(8);
  const data = Array.from({ length: request.readUInt16BE(10) }, (_, i) => [0x01, start + i]).flat();
  return frame(over.tid ?? tidOf(request), over.unit ?? request[6], [over.fc ?? request[7], data.length, ...data]);
}

/** The echo a write request calls for. */
const echo = (request: Buffer) => frame(tidOf(request), request[6], [...request.subarray(7, 12)]);

const honest: Answer = (request, sock) => sock.write(request[7] <= 4 ? registers(request) : echo(request));

async function failure(pending: Promise<unknown>): Promise<Error> {
  return pending.then(() => { throw new Error('expected a rejection'); }, (err: Error) => err);
}

describe('requests', () => {
  it('go out as MBAP frames: transaction id counting up, protocol id 0, the length, the unit id', async () => {
    const dev = await device((request, sock) => {
      if (request[7] === 1) sock.write(frame(tidOf(request), 1, [1, 2, 0b0000_0101, 0b1]));
      else honest(request, sock);
    });
    const link = await connect(dev);
    expect(await link.readRegisters('holding', 10, 2)).toEqual([0x010a, 0x010b]);
    expect(await link.readRegisters('input', 0, 1)).toEqual([0x0100]);
    expect(await link.readBits('coil', 3, 9)).toEqual([true, false, true, false, false, false, false, false, true]);
    await link.writeRegisters(7, [0xbeef]);
    await link.writeRegisters(7, [1, 2]);
    await link.writeCoil(4, true);
    expect(dev.requests.map((r) => r.toString('hex'))).toEqual([
      '000100000006' + '01' + '03000a0002',
      '000200000006' + '01' + '0400000001',
      '000300000006' + '01' + '0100030009',
      '000400000006' + '01' + '060007beef',
      '00050000000b' + '01' + '10000700020400010002',
      '000600000006' + '01' + '050004ff00',
    ]);
  });

  it('after a lost connection, fail at once without touching the wire', async () => {
    const dev = await device(honest);
    const link = await connect(dev);
    await link.close();
    const err = await failure(link.readRegisters('holding', 0, 1));
    expect(err).toBeInstanceOf(LinkLostError);
    expect(err.message).toBe('connection closed');
    expect(dev.requests).toHaveLength(0);
  });
});

describe('replies on the byte stream', () => {
  it('split across chunks, even inside the header, still make one reply', async () => {
    const dev = await device(async (request, sock) => {
      const reply = registers(request);
      for (const [from, to] of [[0, 3], [3, 8], [8, reply.length - 1], [reply.length - 1, reply.length]]) {
        sock.write(reply.subarray(from, to));
        await sleep(15);
      }
    });
    const link = await connect(dev);
    expect(await link.readRegisters('holding', 0, 3)).toEqual([0x0100, 0x0101, 0x0102]);
    expect(await link.readRegisters('holding', 5, 1)).toEqual([0x0105]);
  });

  it('a late reply and the right one in one chunk: the late one is ignored', async () => {
    const held: Buffer[] = [];
    const dev = await device((request, sock) => {
      held.push(registers(request));
      // The first request goes unanswered until the second one comes.
      if (held.length === 2) sock.write(Buffer.concat(held));
    });
    const link = await connect(dev, 100);
    const err = await failure(link.readRegisters('holding', 0, 1));
    expect(err).toMatchObject({ kind: 'timeout', message: 'timeout after 100 ms' });
    expect(await link.readRegisters('holding', 9, 1)).toEqual([0x0109]);
  });

  it('a reply followed by part of another: the part is kept until it completes, then ignored', async () => {
    const dev = await device(async (request, sock) => {
      const reply = registers(request);
      const stray = frame(0x7777, 1, [3, 2, 0xde, 0xad]);
      sock.write(Buffer.concat([reply, stray.subarray(0, 4)]));
      await sleep(15);
      sock.write(stray.subarray(4));
    });
    const link = await connect(dev);
    expect(await link.readRegisters('holding', 1, 1)).toEqual([0x0101]);
    await sleep(40);
    expect(link.lostReason).toBeUndefined();
    expect(await link.readRegisters('holding', 2, 1)).toEqual([0x0102]);
  });

  it('another transaction id first, then the right one: the right one is the reply', async () => {
    const dev = await device(async (request, sock) => {
      sock.write(frame(tidOf(request) + 1, 1, [4, 4, 0xde, 0xad, 0xbe, 0xef]));
      await sleep(15);
      sock.write(registers(request));
    });
    const link = await connect(dev);
    expect(await link.readRegisters('input', 4, 2)).toEqual([0x0104, 0x0105]);
  });

  it('only another transaction id: a timeout that says so, and the link stays', async () => {
    const dev = await device((request, sock) => sock.write(registers(request, { tid: tidOf(request) ^ 0x8000 })));
    const link = await connect(dev, 80);
    for (let i = 0; i < 4; i++) {
      const err = await failure(link.readRegisters('holding', 0, 1));
      expect(err).toMatchObject({ kind: 'timeout', message: 'timeout after 80 ms (a reply with a non-matching transaction id was ignored)' });
    }
    expect(link.lostReason).toBeUndefined();
  });
});

describe('replies that do not answer the request', () => {
  it.each([
    ['another unit id', (r: Buffer) => registers(r, { unit: 9 }), 'reply from unit 9, expected unit 1'],
    ['another function', (r: Buffer) => registers(r, { fc: 4 }), 'reply for function 4, expected function 3'],
    ['fewer registers than asked', (r: Buffer) => frame(tidOf(r), 1, [3, 2, 0, 1]), 'malformed reply: reply of 11 bytes, expected 13 for this request'],
    ['a byte count that disagrees with the frame', (r: Buffer) => frame(tidOf(r), 1, [3, 2, 0, 1, 0, 2]), 'malformed reply: byte count 2, expected 4 for this request'],
  ])('%s: a malformed-reply error, and the link stays usable', async (_name, bend, message) => {
    let bent = true;
    const dev = await device((request, sock) => {
      sock.write(bent ? bend(request) : registers(request));
      bent = false;
    });
    const link = await connect(dev);
    const err = await failure(link.readRegisters('holding', 0, 2));
    expect(err).toBeInstanceOf(ModbusRequestError);
    expect(err).toMatchObject({ kind: 'malformed', message });
    expect(await link.readRegisters('holding', 0, 2)).toEqual([0x0100, 0x0101]);
  });

  it('an exception reply: its code, named', async () => {
    const dev = await device((request, sock) => sock.write(frame(tidOf(request), 1, [request[7] | 0x80, 2])));
    const link = await connect(dev);
    const err = await failure(link.readBits('discrete', 0, 8));
    expect(err).toBeInstanceOf(ModbusRequestError);
    expect(err).toMatchObject({ kind: 'exception', code: 2, message: 'exception 2 (illegal data address)' });
  });

  it('a write confirmed for another address: malformed, saying what was confirmed', async () => {
    const dev = await device((request, sock) => sock.write(frame(tidOf(request), 1, [6, 0, 8, 0, 0x63])));
    const link = await connect(dev);
    const err = await failure(link.writeRegisters(7, [0x63]));
    expect(err).toMatchObject({ kind: 'malformed', message: 'malformed reply: the device confirmed a different write (00080063)' });
  });
});

describe('byte streams that are not Modbus TCP, and connections that end', () => {
  it.each([
    ['a protocol id other than 0', Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), 'protocol id 0x5450, length 12081'],
    ['a length below 3', Buffer.from('000100000002' + '0103', 'hex'), 'protocol id 0x0000, length 2'],
    ['a length above 254', Buffer.from('0001000000ff' + '01', 'hex'), 'protocol id 0x0000, length 255'],
  ])('%s: the request fails at once and the connection is dropped', async (_name, bytes, what) => {
    const dev = await device((_request, sock) => sock.write(bytes));
    const link = await connect(dev, 5000);
    const t0 = performance.now();
    const err = await failure(link.readRegisters('holding', 0, 1));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(LinkLostError);
    expect(err.message).toBe(`the device sent a frame that is not Modbus TCP (${what}); connection dropped to resynchronise`);
    expect(link.lostReason).toBe(err.message);
    expect(await failure(link.readRegisters('holding', 0, 1))).toBeInstanceOf(LinkLostError);
  });

  it('a device that closes mid-frame: the request fails at once, the connection is gone', async () => {
    const dev = await device((request, sock) => sock.end(registers(request).subarray(0, 8)));
    const link = await connect(dev, 5000);
    const t0 = performance.now();
    const err = await failure(link.readRegisters('holding', 0, 1));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(LinkLostError);
    expect(err.message).toBe('connection closed by the device');
  });

  it('a frame still incomplete at the timeout: a timeout saying so, then the connection is dropped', async () => {
    const dev = await device((request, sock) => sock.write(registers(request).subarray(0, 8)));
    const link = await connect(dev, 60);
    const err = await failure(link.readRegisters('holding', 0, 1));
    expect(err).toMatchObject({ kind: 'timeout', message: 'timeout after 60 ms (the device sent an incomplete frame)' });
    expect(link.lostReason).toBe('the device sent an incomplete frame; connection dropped to resynchronise');
  });

  it('three silent timeouts in a row drop the connection; any frame in between starts the count again', async () => {
    let answers = 0;
    const dev = await device(async (request, sock) => {
      // Only the second request is answered, too late for it.
      if (++answers !== 2) return;
      await sleep(60);
      sock.write(registers(request));
    });
    const link = await connect(dev, 40);
    const silent = 'timeout after 40 ms';
    expect(await failure(link.readRegisters('holding', 0, 1))).toMatchObject({ message: silent });
    expect(await failure(link.readRegisters('holding', 0, 1))).toMatchObject({ message: silent });
    await sleep(150);
    for (let i = 0; i < 2; i++) expect(await failure(link.readRegisters('holding', 0, 1))).toMatchObject({ message: silent });
    expect(link.lostReason).toBeUndefined();
    expect(await failure(link.readRegisters('holding', 0, 1))).toMatchObject({ message: silent });
    expect(link.lostReason).toBe('no reply to 3 requests in a row; connection dropped in case it is half-open');
  });
});
