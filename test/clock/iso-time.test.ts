import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/clock/iso-time.js';
import { seededRandom } from '../helpers/random.js';

describe('isoTime', () => {
  it('writes what Date#toISOString writes, for edges and 10,000 random times', () => {
    const edges = [0, -1, 1, 999, 1000, 951782400000, 4102444799999, 253402300799999, 253402300800000, -62167219200000, -62167219200001, 8.64e15, -8.64e15];
    const rand = seededRandom(19);
    const random = Array.from({ length: 10_000 }, () => Math.floor((rand() * 2 - 1) * 8.64e15));
    for (const ms of [...edges, ...random]) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it('throws for an invalid time, as toISOString does', () => {
    expect(() => isoTime(NaN)).toThrow(RangeError);
    expect(() => isoTime(8.64e15 + 1)).toThrow(RangeError);
  });
});
