/**
 * Devices that misbehave on the wire, scripted byte by byte with a raw TCP server: whatever
 * they send, the driver answers with bad readings or a rejected read, never a crash or a hang.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ModbusDriver } from '../driver.js';
import { openTcpLink } from '../tcp-link.js';
import { group, mtag, never, tcpDevice, testContext } from './helpers.js';

interface Request {
  readonly tid: number;
  readonly unit: number;
  readonly fc: number;
  readonly start: number;
  readonly count: number;
}

type Responder = (req: Request, sock: net.Socket) => void;

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const drivers: ModbusDriver[] = [];

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A Modbus TCP "device" whose every answer the test writes; `respond` may be swapped at any time. */
async function rawDevice(initial: Responder): Promise<{ port: number; respond: Responder }> {
  const device = { port: 0, respond: initial };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 12 && pending.length >= 6 + pending.readUInt16BE(4)) {
        const frame = pending.subarray(0, 6 + pending.readUInt16BE(4));
        pending = pending.subarray(frame.length);
        device.respond({ tid: frame.readUInt16BE(0), unit: frame[6], fc: frame[7], start: frame.readUInt16BE(8), count: frame.readUInt16BE(10) }, sock);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  device.port = (server.address() as net.AddressInfo).port;
  return device;
}

/** A register-read reply; `over` bends one field of it. */
function reply(req: Request, over: { tid?: number; unit?: number; fc?: number; byteCount?: number; registers?: number[] } = {}): Buffer {
  const regs = over.registers ?? Array.from({ length: req.count }, (_, i) => req.start + i);
  const pdu = Buffer.alloc(3 + regs.length * 2);
  pdu[0] = over.unit ?? req.unit;
  pdu[1] = over.fc ?? req.fc;
  pdu[2] = over.byteCount ?? regs.length * 2;
  regs.forEach((r, i) => pdu.writeUInt16BE(r, 3 + i * 2));
  const mbap = Buffer.alloc(6);
  mbap.writeUInt16BE(over.tid ?? req.tid, 0);
  mbap.writeUInt16BE(pdu.length, 4);
  return Buffer.concat([mbap, pdu]);
}

function exceptionReply(req: Request, code: number): Buffer {
  const frame = Buffer.from([0, 0, 0, 0, 0, 3, req.unit, req.fc | 0x80, code]);
  frame.writeUInt16BE(req.tid, 0);
  return frame;
}

const good: Responder = (req, sock) => sock.write(reply(req));
const tags = [mtag({ name: 'a', area: 'holding', address: 7 }), mtag({ name: 'b', area: 'holding', address: 8 })];

async function connected(port: number, timeout = 300) {
  const device = tcpDevice(port, tags, { timeout });
  const driver = new ModbusDriver(device, testContext(), (signal) => openTcpLink(device, signal));
  drivers.push(driver);
  await driver.connect(never);
  return driver;
}

async function readTimed(driver: ModbusDriver) {
  const t0 = Date.now();
  const readings = await driver.read(group(tags), never);
  return { readings, ms: Date.now() - t0 };
}

describe('replies that do not match the request', () => {
  it('works against the scripted device when it behaves', async () => {
    const dev = await rawDevice(good);
    const { readings } = await readTimed(await connected(dev.port));
    expect(readings.map((r) => [r.value, r.quality])).toEqual([[7, 'good'], [8, 'good']]);
  });

  it('a wrong transaction id: bad readings after the timeout, saying so; the connection stays usable', async () => {
    const dev = await rawDevice((req, sock) => sock.write(reply(req, { tid: (req.tid + 7) & 0xffff })));
    const driver = await connected(dev.port);
    const { readings, ms } = await readTimed(driver);
    for (const r of readings) {
      expect(r).toMatchObject({ quality: 'bad', value: null, error: 'timeout after 300 ms (a reply with a non-matching transaction id was ignored)' });
    }
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1500);
    dev.respond = good;
    expect((await driver.read(group(tags), never)).map((r) => r.value)).toEqual([7, 8]);
  });

  it('a reply from another unit id or for another function: bad readings at once', async () => {
    const dev = await rawDevice((req, sock) => sock.write(reply(req, { unit: 9 })));
    const driver = await connected(dev.port);
    let { readings, ms } = await readTimed(driver);
    expect(readings[0]).toMatchObject({ quality: 'bad', error: 'reply from unit 9, expected unit 1' });
    expect(ms).toBeLessThan(250);

    dev.respond = (req, sock) => sock.write(reply(req, { fc: 4 }));
    ({ readings } = await readTimed(driver));
    expect(readings[0]).toMatchObject({ quality: 'bad', error: 'reply for function 4, expected function 3' });
  });

  it('a reply of the wrong size or with a lying byte count: bad readings, "malformed reply"', async () => {
    const dev = await rawDevice((req, sock) => sock.write(reply(req, { registers: [1] })));
    const driver = await connected(dev.port);
    expect((await driver.read(group(tags), never))[0]).toMatchObject({ quality: 'bad', error: expect.stringMatching(/^malformed reply: /) });
    dev.respond = (req, sock) => sock.write(reply(req, { byteCount: 200 }));
    expect((await driver.read(group(tags), never))[1]).toMatchObject({ quality: 'bad', error: expect.stringMatching(/^malformed reply: /) });
  });

  it('exception codes are named', async () => {
    const dev = await rawDevice((req, sock) => sock.write(exceptionReply(req, 11)));
    const driver = await connected(dev.port);
    expect((await driver.read(group(tags), never))[0].error).toBe('exception 11 (gateway target device failed to respond)');
    dev.respond = (req, sock) => sock.write(exceptionReply(req, 0x42));
    expect((await driver.read(group(tags), never))[0].error).toBe('exception 66 (unknown exception code)');
  });
});

describe('byte streams that are not Modbus TCP', () => {
  it('garbage: read() rejects at once, and a fresh connection reads again', async () => {
    const dev = await rawDevice((_req, sock) => sock.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const driver = await connected(dev.port, 5000);
    const t0 = Date.now();
    await expect(driver.read(group(tags), never)).rejects.toThrow(/not Modbus TCP \(protocol id 0x5450, length 12081\)/);
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(driver.read(group(tags), never)).rejects.toThrow(/not Modbus TCP/);
    dev.respond = good;
    await driver.connect(never);
    expect((await driver.read(group(tags), never)).map((r) => r.value)).toEqual([7, 8]);
  });

  it('a frame that never completes: a timeout, then the connection is dropped to resynchronise', async () => {
    const dev = await rawDevice((req, sock) => sock.write(reply(req).subarray(0, 8)));
    const driver = await connected(dev.port);
    const { readings } = await readTimed(driver);
    expect(readings[0]).toMatchObject({ quality: 'bad', error: 'timeout after 300 ms (the device sent an incomplete frame)' });
    await expect(driver.read(group(tags), never)).rejects.toThrow(/incomplete frame; connection dropped/);
    dev.respond = good;
    await driver.connect(never);
    expect((await driver.read(group(tags), never)).map((r) => r.value)).toEqual([7, 8]);
  });

  it('a device that hangs up on a request: read() rejects without waiting for the timeout', async () => {
    const dev = await rawDevice((_req, sock) => sock.destroy());
    const driver = await connected(dev.port, 5000);
    const t0 = Date.now();
    await expect(driver.read(group(tags), never)).rejects.toThrow(/^(connection closed by the device|socket error \(read ECONNRESET\))$/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('any bytes at all: a result or a rejection within the timeout, never a crash or a hang', async () => {
    const answer: { bytes: Uint8Array } = { bytes: new Uint8Array() };
    const dev = await rawDevice((req, sock) => {
      const bytes = Buffer.from(answer.bytes);
      // Half the time keep the real transaction id, so the reply gets as far as the PDU checks.
      if (bytes.length >= 2 && bytes[0] % 2 === 0) bytes.writeUInt16BE(req.tid, 0);
      sock.write(bytes);
    });
    const validHeaderPrefix = fc.uint8Array({ minLength: 0, maxLength: 12 }).map((pdu) => {
      const head = Buffer.from([0, 0, 0, 0, 0, pdu.length]);
      return new Uint8Array(Buffer.concat([head, pdu]));
    });
    await fc.assert(fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 24 }), validHeaderPrefix), async (bytes) => {
      answer.bytes = bytes;
      const driver = await connected(dev.port, 120);
      const t0 = Date.now();
      try {
        const readings = await driver.read(group(tags), never);
        expect(readings).toHaveLength(2);
        for (const r of readings) {
          if (r.quality === 'bad') expect(r.error).toMatch(/\w/);
          else expect(typeof r.value).toBe('number');
        }
      } catch (err) {
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/connection|Modbus TCP|frame/);
      }
      expect(Date.now() - t0).toBeLessThan(1200);
      await driver.close();
    }), { numRuns: 30 });
  });
});
