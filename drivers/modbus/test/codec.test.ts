import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ByteOrder, ModbusTagType } from '../schema.js';
import { decodeRegisters, encodeRegisters, shortestFloat32, tagWidth } from '../codec.js';
import { mtag } from './helpers.js';

const ORDERS: readonly ByteOrder[] = ['ABCD', 'BADC', 'CDAB', 'DCBA'];

/**
 * Known wire vectors, register by register, written out by hand from the big-endian bytes
 * (python struct.pack('>…')), one column per byte order.
 */
const VECTORS: ReadonlyArray<{
  type: ModbusTagType;
  value: number | bigint;
  regs: Record<ByteOrder, number[]>;
}> = [
  { type: 'int16', value: -2, regs: { ABCD: [0xfffe], BADC: [0xfeff], CDAB: [0xfffe], DCBA: [0xfeff] } },
  { type: 'uint16', value: 0x1234, regs: { ABCD: [0x1234], BADC: [0x3412], CDAB: [0x1234], DCBA: [0x3412] } },
  {
    type: 'int32', value: -123456789,
    regs: { ABCD: [0xf8a4, 0x32eb], BADC: [0xa4f8, 0xeb32], CDAB: [0x32eb, 0xf8a4], DCBA: [0xeb32, 0xa4f8] },
  },
  {
    type: 'uint32', value: 3000000000,
    regs: { ABCD: [0xb2d0, 0x5e00], BADC: [0xd0b2, 0x005e], CDAB: [0x5e00, 0xb2d0], DCBA: [0x005e, 0xd0b2] },
  },
  {
    type: 'float32', value: 123.456,
    regs: { ABCD: [0x42f6, 0xe979], BADC: [0xf642, 0x79e9], CDAB: [0xe979, 0x42f6], DCBA: [0x79e9, 0xf642] },
  },
  {
    type: 'float64', value: 123.456,
    regs: {
      ABCD: [0x405e, 0xdd2f, 0x1a9f, 0xbe77], BADC: [0x5e40, 0x2fdd, 0x9f1a, 0x77be],
      CDAB: [0xbe77, 0x1a9f, 0xdd2f, 0x405e], DCBA: [0x77be, 0x9f1a, 0x2fdd, 0x5e40],
    },
  },
  {
    type: 'int64', value: -1234567890123456789n,
    regs: {
      ABCD: [0xeedd, 0xef0b, 0x8216, 0x7eeb], BADC: [0xddee, 0x0bef, 0x1682, 0xeb7e],
      CDAB: [0x7eeb, 0x8216, 0xef0b, 0xeedd], DCBA: [0xeb7e, 0x1682, 0x0bef, 0xddee],
    },
  },
  {
    type: 'int64', value: 9007199254740991, // 2^53 − 1: still a number
    regs: {
      ABCD: [0x001f, 0xffff, 0xffff, 0xffff], BADC: [0x1f00, 0xffff, 0xffff, 0xffff],
      CDAB: [0xffff, 0xffff, 0xffff, 0x001f], DCBA: [0xffff, 0xffff, 0xffff, 0x1f00],
    },
  },
  {
    type: 'int64', value: -9007199254740991,
    regs: {
      ABCD: [0xffe0, 0x0000, 0x0000, 0x0001], BADC: [0xe0ff, 0x0000, 0x0000, 0x0100],
      CDAB: [0x0001, 0x0000, 0x0000, 0xffe0], DCBA: [0x0100, 0x0000, 0x0000, 0xe0ff],
    },
  },
  {
    type: 'int64', value: -9007199254740992n, // −2^53: no longer safe, so a bigint
    regs: {
      ABCD: [0xffe0, 0x0000, 0x0000, 0x0000], BADC: [0xe0ff, 0x0000, 0x0000, 0x0000],
      CDAB: [0x0000, 0x0000, 0x0000, 0xffe0], DCBA: [0x0000, 0x0000, 0x0000, 0xe0ff],
    },
  },
  {
    type: 'uint64', value: 9007199254740992n, // 2^53
    regs: {
      ABCD: [0x0020, 0x0000, 0x0000, 0x0000], BADC: [0x2000, 0x0000, 0x0000, 0x0000],
      CDAB: [0x0000, 0x0000, 0x0000, 0x0020], DCBA: [0x0000, 0x0000, 0x0000, 0x2000],
    },
  },
  {
    type: 'uint64', value: 18446744073709551615n,
    regs: {
      ABCD: [0xffff, 0xffff, 0xffff, 0xffff], BADC: [0xffff, 0xffff, 0xffff, 0xffff],
      CDAB: [0xffff, 0xffff, 0xffff, 0xffff], DCBA: [0xffff, 0xffff, 0xffff, 0xffff],
    },
  },
  {
    type: 'uint64', value: 1,
    regs: {
      ABCD: [0x0000, 0x0000, 0x0000, 0x0001], BADC: [0x0000, 0x0000, 0x0000, 0x0100],
      CDAB: [0x0001, 0x0000, 0x0000, 0x0000], DCBA: [0x0100, 0x0000, 0x0000, 0x0000],
    },
  },
];

describe('codec: known vectors, every type × byte order', () => {
  for (const v of VECTORS) {
    for (const order of ORDERS) {
      const tag = mtag({ area: 'holding', address: 0, type: v.type, byte_order: order });
      it(`${v.type} ${String(v.value)} ${order}`, () => {
        // Surrounded by junk registers: the decoder must read at its index and no further.
        const wire = [0xdead, ...v.regs[order], 0xbeef];
        const decoded = decodeRegisters(tag, wire, 1);
        expect(typeof decoded).toBe(typeof v.value);
        expect(decoded).toEqual(v.value);
        expect(encodeRegisters(tag, v.value)).toEqual(v.regs[order]);
      });
    }
  }
});

describe('codec: strings', () => {
  const str = (order: ByteOrder, length = 4) => mtag({ area: 'holding', address: 0, type: 'string', length, byte_order: order });
  const HIGH_FIRST = [0x5052, 0x4553, 0x532d, 0x3100]; // "PRESS-1\0"
  const LOW_FIRST = [0x5250, 0x5345, 0x2d53, 0x0031];

  it('reads high byte first for ABCD and CDAB, low byte first for BADC and DCBA', () => {
    expect(decodeRegisters(str('ABCD'), HIGH_FIRST, 0)).toBe('PRESS-1');
    expect(decodeRegisters(str('CDAB'), HIGH_FIRST, 0)).toBe('PRESS-1');
    expect(decodeRegisters(str('BADC'), LOW_FIRST, 0)).toBe('PRESS-1');
    expect(decodeRegisters(str('DCBA'), LOW_FIRST, 0)).toBe('PRESS-1');
  });

  it('trims trailing NULs and spaces only', () => {
    expect(decodeRegisters(str('ABCD'), [0x2041, 0x2042, 0x2020, 0x0000], 0)).toBe(' A B');
    expect(decodeRegisters(str('ABCD'), [0, 0, 0, 0], 0)).toBe('');
  });

  it('encodes padded with NULs and refuses what does not fit', () => {
    expect(encodeRegisters(str('ABCD'), 'PRESS-1')).toEqual(HIGH_FIRST);
    expect(encodeRegisters(str('DCBA'), 'PRESS-1')).toEqual(LOW_FIRST);
    expect(encodeRegisters(str('ABCD', 2), 'AB')).toEqual([0x4142, 0]);
    expect(() => encodeRegisters(str('ABCD', 2), 'ABCDE')).toThrow(/does not fit 2 registers/);
    expect(() => encodeRegisters(str('ABCD', 2), 'é')).toThrow(/ASCII/);
    expect(() => encodeRegisters(str('ABCD', 2), 42)).toThrow(TypeError);
  });
});

describe('codec: bools and bits', () => {
  it('picks one bit, 0 = least significant', () => {
    const bit = (b: number, order: ByteOrder = 'ABCD') => mtag({ area: 'holding', address: 0, type: 'bool', bit: b, byte_order: order });
    expect(decodeRegisters(bit(3), [0x0008], 0)).toBe(true);
    expect(decodeRegisters(bit(2), [0x0008], 0)).toBe(false);
    expect(decodeRegisters(bit(15), [0x8000], 0)).toBe(true);
    // A byte-swapping device puts the low byte first: its bit 3 arrives as 0x0800.
    expect(decodeRegisters(bit(3, 'BADC'), [0x0800], 0)).toBe(true);
    expect(decodeRegisters(bit(11, 'BADC'), [0x0800], 0)).toBe(false);
  });

  it('without bit, any non-zero register is true', () => {
    const t = mtag({ area: 'holding', address: 0, type: 'bool' });
    expect(decodeRegisters(t, [0], 0)).toBe(false);
    expect(decodeRegisters(t, [0x0100], 0)).toBe(true);
  });

  it('sets and clears one bit, keeping the others', () => {
    const t = mtag({ area: 'holding', address: 0, type: 'bool', bit: 3 });
    expect(encodeRegisters(t, true, 0x8001)).toEqual([0x8009]);
    expect(encodeRegisters(t, false, 0xffff)).toEqual([0xfff7]);
    expect(encodeRegisters(mtag({ ...t, byte_order: 'DCBA' }), true, 0x0000)).toEqual([0x0800]);
    expect(() => encodeRegisters(t, 'yes')).toThrow(/true\/false/);
  });
});

describe('codec: scale and offset', () => {
  it('applies value = raw * scale + offset to numeric types', () => {
    const t = mtag({ area: 'holding', address: 0, type: 'int16', scale: 0.1, offset: -40 });
    expect(decodeRegisters(t, [615], 0)).toBeCloseTo(21.5, 10);
    expect(decodeRegisters(t, [0xfffe], 0)).toBeCloseTo(-40.2, 10);
  });

  it('keeps 64-bit integers exact when there is nothing to scale', () => {
    const t = mtag({ area: 'holding', address: 0, type: 'uint64' });
    expect(decodeRegisters(t, [0xffff, 0xffff, 0xffff, 0xfffe], 0)).toBe(18446744073709551614n);
    // With a scale the value becomes an ordinary (rounded) number.
    expect(decodeRegisters({ ...t, scale: 2 }, [0, 0, 1, 0], 0)).toBe(131072);
  });

  it('undoes scale and offset when encoding, rounding to the raw integer', () => {
    const t = mtag({ area: 'holding', address: 0, type: 'int16', scale: 0.1, offset: -40 });
    expect(encodeRegisters(t, 21.5)).toEqual([615]);
    const f = mtag({ area: 'holding', address: 0, type: 'float32', scale: 2, offset: 1 });
    expect(decodeRegisters(f, encodeRegisters(f, 7), 0)).toBe(7);
  });
});

describe('codec: encoding range checks', () => {
  const t = (type: ModbusTagType) => mtag({ area: 'holding', address: 0, type });
  it.each([
    ['int16', 32768], ['int16', -32769], ['uint16', 65536], ['uint16', -1],
    ['int32', 2 ** 31], ['uint32', 2 ** 32], ['uint64', -1], ['int64', 2n ** 63n], ['uint64', 2n ** 64n],
    ['float32', 1e39],
  ] as const)('%s refuses %s', (type, value) => {
    expect(() => encodeRegisters(t(type), value)).toThrow(RangeError);
  });

  it.each([['int16', 'abc'], ['float64', NaN], ['float32', Infinity], ['uint16', null], ['int32', '']] as const)(
    '%s refuses %s', (type, value) => {
      expect(() => encodeRegisters(t(type), value)).toThrow(TypeError);
    });

  it('accepts 64-bit integers as exact decimal strings and bigints', () => {
    expect(encodeRegisters(t('int64'), '-1234567890123456789')).toEqual([0xeedd, 0xef0b, 0x8216, 0x7eeb]);
    expect(encodeRegisters(t('uint64'), 18446744073709551615n)).toEqual([0xffff, 0xffff, 0xffff, 0xffff]);
    expect(encodeRegisters(t('int16'), '-7')).toEqual([0xfff9]);
  });

  it('gives every type its register width', () => {
    expect([t('bool'), t('int16'), t('int32'), t('float32'), t('uint64'), t('float64')].map(tagWidth)).toEqual([1, 1, 2, 2, 4, 4]);
    expect(tagWidth(mtag({ area: 'holding', address: 0, type: 'string', length: 8 }))).toBe(8);
    expect(tagWidth(mtag({ area: 'coil', address: 0 }))).toBe(1);
  });
});

describe('codec: encode/decode round trip (property)', () => {
  const cases: Array<[ModbusTagType, fc.Arbitrary<unknown>, (v: never) => unknown]> = [
    ['int16', fc.integer({ min: -32768, max: 32767 }), (v: number) => v],
    ['uint16', fc.integer({ min: 0, max: 65535 }), (v: number) => v],
    ['int32', fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v: number) => v],
    ['uint32', fc.integer({ min: 0, max: 2 ** 32 - 1 }), (v: number) => v],
    ['float64', fc.double({ noNaN: true, noDefaultInfinity: true }), (v: number) => v],
    ['int64', fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v: bigint) => (v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : v)],
    ['uint64', fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v: bigint) => (v <= 2n ** 53n - 1n ? Number(v) : v)],
  ];
  for (const [type, arbitrary, expected] of cases) {
    it(`${type} in every byte order`, () => {
      fc.assert(fc.property(arbitrary, fc.constantFrom(...ORDERS), (value, order) => {
        const tag = mtag({ area: 'holding', address: 0, type, byte_order: order });
        const regs = encodeRegisters(tag, value);
        expect(regs).toHaveLength(tagWidth(tag));
        for (const r of regs) expect(r >= 0 && r <= 0xffff).toBe(true);
        expect(decodeRegisters(tag, regs, 0)).toEqual(expected(value as never));
      }), { numRuns: 500 });
    });
  }
});

describe('codec: float32 is published as the shortest decimal that is the same float32', () => {
  it.each([
    [Math.fround(123.456), 123.456],
    [Math.fround(0.1), 0.1],
    [Math.fround(-21.7), -21.7],
    [Math.fround(1e20), 1e20],
    [Math.fround(3.4028235e38), 3.4028235e38],
    [Math.fround(1.17549435e-38), 1.1754944e-38],
    [Math.fround(1e-45), 1e-45], // the smallest subnormal
    [16777216, 16777216],
    [Math.fround(16777217), 16777216],
    [-0, -0],
    [Infinity, Infinity],
    [NaN, NaN],
  ])('%s → %s', (bits, shortest) => {
    expect(shortestFloat32(bits)).toBe(shortest);
  });

  it('round-trips and is never longer than needed, in every byte order (property)', () => {
    fc.assert(fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(...ORDERS), (value, order) => {
      const tag = mtag({ area: 'holding', address: 0, type: 'float32', byte_order: order });
      const decoded = decodeRegisters(tag, encodeRegisters(tag, value), 0) as number;
      expect(Math.fround(decoded)).toBe(value);
      const digits = decoded.toExponential().replace(/^-?(\d)\.?(\d*)e.*$/, '$1$2').length;
      if (digits > 1) expect(Math.fround(Number(value.toPrecision(digits - 1)))).not.toBe(value);
    }), { numRuns: 2000 });
  });

  /** The definition, by strings: the fewest significant digits whose toPrecision is the same float32. */
  function byToPrecision(x: number): number {
    for (let digits = 1; ; digits++) {
      const candidate = Number(x.toPrecision(digits));
      if (Math.fround(candidate) === x) return candidate;
    }
  }

  it.each([
    ['any float32', fc.float({ noNaN: true, noDefaultInfinity: true })],
    ['the magnitudes of process values', fc.float({ min: Math.fround(1e-4), max: Math.fround(2e8), noNaN: true })],
    ['around the edges of the arithmetic', fc.tuple(fc.integer({ min: -6, max: 12 }), fc.double({ min: 1, max: 10, noNaN: true })).map(([e, m]) => Math.fround(m * 10 ** e))],
    // Few binary digits: many decimal ties (20.5 to 2 digits), where the rounding direction shows.
    ['values of few binary digits', fc.tuple(fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), fc.integer({ min: 0, max: 30 })).map(([n, k]) => Math.fround(n / 2 ** k))],
    ['next to powers of ten', fc.tuple(fc.integer({ min: -4, max: 9 }), fc.integer({ min: -3, max: 3 })).map(([e, step]) => {
      const x = Math.fround(10 ** e);
      const scratch = new DataView(new ArrayBuffer(4));
      scratch.setFloat32(0, x);
      scratch.setInt32(0, scratch.getInt32(0) + step);
      return scratch.getFloat32(0);
    })],
  ])('is the toPrecision answer for %s (property)', (_name, values) => {
    fc.assert(fc.property(values, (x) => {
      expect(Object.is(shortestFloat32(x), byToPrecision(x)) || (x === 0 && shortestFloat32(x) === 0)).toBe(true);
    }), { numRuns: 5000 });
  });
});
