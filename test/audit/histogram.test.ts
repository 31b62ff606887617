import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Histogram } from '../../src/audit/histogram.js';

/** The nearest-rank quantile of the raw values, negatives counted as 0. */
function exactQuantile(values: number[], q: number): number {
  const sorted = values.map((v) => Math.max(0, Math.floor(v))).sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

describe('Histogram', () => {
  it('is empty until the first value', () => {
    expect(new Histogram().summary()).toEqual({ count: 0, p50: null, p99: null, min: null, max: null });
  });

  it('is exact below 128 ms', () => {
    const h = new Histogram();
    for (let v = 1; v <= 100; v++) h.record(v);
    expect(h.summary()).toEqual({ count: 100, p50: 50, p99: 99, min: 1, max: 100 });
  });

  it('stays within 1/64 above the true quantile for values up to days, and keeps min/max exact', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -500, max: 10 * 86_400_000 }), { minLength: 1, maxLength: 400 }),
        fc.constantFrom(0.5, 0.9, 0.99, 1),
        (values, q) => {
          const h = new Histogram();
          for (const v of values) h.record(v);
          const exact = exactQuantile(values, q);
          const got = h.quantile(q)!;
          expect(got).toBeGreaterThanOrEqual(exact);
          expect(got).toBeLessThanOrEqual(exact * (1 + 1 / 64));
          expect(h.summary().min).toBe(Math.min(...values));
          expect(h.summary().max).toBe(Math.max(...values));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the median of a million values within 2 %', () => {
    const h = new Histogram();
    for (let i = 0; i < 1_000_000; i++) h.record((i * 7919) % 100_000);
    expect(h.count).toBe(1_000_000);
    // Uniform 0..99,999: the median is about 50,000.
    expect(Math.abs(h.quantile(0.5)! - 50_000) / 50_000).toBeLessThan(0.02);
  });
});
