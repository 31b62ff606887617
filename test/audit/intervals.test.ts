import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IntervalSet } from '../../src/audit/intervals.js';

/** The ranges a plain set of integers compresses to. */
function rangesOf(values: Set<number>): Array<[number, number]> {
  const sorted = [...values].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const v of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === v - 1) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

describe('IntervalSet', () => {
  it('merges neighbours from either side and joins two ranges through the hole between them', () => {
    const s = new IntervalSet();
    for (const n of [5, 7, 6, 1, 3]) s.add(n);
    expect(s.ranges()).toEqual([[1, 1], [3, 3], [5, 7]]);
    s.add(2);
    expect(s.ranges()).toEqual([[1, 3], [5, 7]]);
    s.add(4);
    expect(s.ranges()).toEqual([[1, 7]]);
    expect(s.rangeCount).toBe(1);
  });

  it('reports a repeated value as not added', () => {
    const s = new IntervalSet();
    expect(s.add(10)).toBe(true);
    expect(s.add(10)).toBe(false);
    expect(s.has(10)).toBe(true);
    expect(s.has(9)).toBe(false);
    expect(s.has(11)).toBe(false);
  });

  it('agrees with a plain Set on any sequence of adds', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 80 }), { maxLength: 200 }), fc.array(fc.integer({ min: -2, max: 82 }), { maxLength: 30 }), (adds, probes) => {
        const s = new IntervalSet();
        const model = new Set<number>();
        for (const n of adds) {
          expect(s.add(n)).toBe(!model.has(n));
          model.add(n);
        }
        expect(s.ranges()).toEqual(rangesOf(model));
        for (const p of probes) expect(s.has(p)).toBe(model.has(p));
      }),
      { numRuns: 300 },
    );
  });
});
