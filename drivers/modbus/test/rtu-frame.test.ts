/**
 * RTU framing, pure: CRC vectors from the Modbus specification and common tools, frame lengths
 * from partial bytes, reply checks, and the silent interval per line setting.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { silentIntervalMs } from '../rtu-timing.js';
import {
  crc16, crcMatches, readRequest, replyBits, replyLength, replyProblem, replyRegisters, requestLength, withCrc,
  writeCoilRequest, writeRegisterRequest, writeRegistersRequest,
} from '../rtu-frame.js';
import { rtuDevice } from './rtu-helpers.js';

const bytes = (hex: string) => Buffer.from(hex.replace(/ /g, ''), 'hex');

describe('CRC-16/MODBUS', () => {
  it.each([
    // Modbus over serial line spec, and the read of 10 registers every tool shows.
    ['11 03 00 6B 00 03', '11 03 00 6B 00 03 76 87'],
    ['01 03 00 00 00 0A', '01 03 00 00 00 0A C5 CD'],
    ['01 06 00 01 00 03', '01 06 00 01 00 03 98 0B'],
  ])('%s -> %s', (body, frame) => {
    expect(withCrc(bytes(body))).toEqual(bytes(frame));
    expect(crcMatches(bytes(frame))).toBe(true);
  });

  it('"123456789" gives the catalogue check value 0x4B37', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x4b37);
  });

  it('catches every single-bit error and every burst of up to 16 bits', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 2, maxLength: 60 }), fc.nat(), fc.integer({ min: 1, max: 0xffff }),
      (body, at, pattern) => {
        const frame = withCrc(body);
        const bit = at % (frame.length * 8 - 15);
        // XOR a 16-bit pattern in at any bit offset: a burst no longer than 16 bits.
        const spoilt = Buffer.from(frame);
        for (let i = 0; i < 16; i++) if ((pattern >> i) & 1) spoilt[(bit + i) >> 3] ^= 1 << ((bit + i) & 7);
        expect(crcMatches(spoilt)).toBe(false);
      },
    ), { numRuns: 3000 });
  });
});

describe('requests', () => {
  it('are laid out as the specification shows, with the length of their normal reply', () => {
    expect(readRequest(0x11, 3, 0x6b, 3)).toEqual({ unit: 0x11, fc: 3, frame: bytes('11 03 00 6B 00 03 76 87'), replyLength: 11 });
    expect(readRequest(1, 1, 0, 10).replyLength).toBe(7);
    expect(readRequest(1, 2, 0, 16).replyLength).toBe(7);
    expect(writeCoilRequest(1, 0xac, true).frame.subarray(0, 6)).toEqual(bytes('01 05 00 AC FF 00'));
    expect(writeRegisterRequest(1, 1, 3).frame).toEqual(bytes('01 06 00 01 00 03 98 0B'));
    expect(writeRegistersRequest(1, 1, [0x0a, 0x102]).frame.subarray(0, -2)).toEqual(bytes('01 10 00 01 00 02 04 00 0A 01 02'));
  });

  it('are sized from their first bytes, as a slave must', () => {
    const frame = writeRegistersRequest(3, 100, [1, 2, 3]).frame;
    expect([1, 2, 6].map((n) => requestLength(frame.subarray(0, n)))).toEqual([undefined, undefined, undefined]);
    expect(requestLength(frame.subarray(0, 7))).toBe(frame.length);
    expect(requestLength(readRequest(3, 4, 0, 1).frame.subarray(0, 2))).toBe(8);
    expect(requestLength(bytes('03 2B'))).toBeNull();
  });
});

describe('replies', () => {
  const read = readRequest(2, 3, 0, 2);

  it('are sized from their first bytes', () => {
    expect(replyLength(bytes('02'))).toBeUndefined();
    expect(replyLength(bytes('02 03'))).toBeUndefined();
    expect(replyLength(bytes('02 03 04'))).toBe(9);
    expect(replyLength(bytes('02 83'))).toBe(5);
    expect(replyLength(bytes('02 10'))).toBe(8);
    expect(replyLength(bytes('00 00'))).toBeNull();
  });

  it('are checked against their request', () => {
    const ok = withCrc(bytes('02 03 04 12 34 56 78'));
    expect(replyProblem(read, ok)).toBeUndefined();
    expect(replyRegisters(ok)).toEqual([0x1234, 0x5678]);
    expect(replyProblem(read, withCrc(bytes('05 03 04 12 34 56 78')))?.message).toBe('reply from unit 5, expected unit 2');
    expect(replyProblem(read, withCrc(bytes('02 04 04 12 34 56 78')))?.message).toBe('reply for function 4, expected function 3');
    expect(replyProblem(read, withCrc(bytes('02 03 02 12 34')))?.message).toBe('reply of 7 bytes, expected 9 for this request');
    expect(replyProblem(read, withCrc(bytes('02 83 02')))).toEqual({ kind: 'exception', code: 2, message: 'exception 2 (illegal data address)' });
    const write = writeRegisterRequest(2, 7, 99);
    expect(replyProblem(write, write.frame)).toBeUndefined();
    expect(replyProblem(write, withCrc(bytes('02 06 00 08 00 63')))?.message).toBe('the device confirmed a different write (00080063)');
  });

  it('unpack bits least significant first', () => {
    expect(replyBits(withCrc(bytes('01 01 02 CD 01')), 10)).toEqual(
      [true, false, true, true, false, false, true, true, true, false],
    );
  });
});

describe('the silent interval', () => {
  it.each([
    [9600, 'none', 1, 3.646],
    [9600, 'even', 1, 4.010],
    [19200, 'even', 1, 2.005],
    [1200, 'none', 2, 32.083],
    [38400, 'even', 1, 1.75],
    [115200, 'none', 1, 1.75],
  ] as const)('%i baud, parity %s, %i stop bit(s): %f ms', (baud_rate, parity, stop_bits, ms) => {
    expect(silentIntervalMs(rtuDevice('/dev/null', [], { baud_rate, parity, stop_bits }))).toBeCloseTo(ms, 3);
  });
});
