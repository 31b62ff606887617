/**
 * A fixed-size log-linear histogram of non-negative millisecond values, for percentiles over
 * runs of any length: values below 128 ms are counted exactly, larger ones in 64 buckets per
 * power of two (at most 1/64 ≈ 1.6 % above the true value). Min and max are kept exactly.
 */

const LINEAR = 128;
const SUB = 64;
const SUB_BITS = 6;
const MAX_EXP = 52;
const BUCKETS = LINEAR + (MAX_EXP - SUB_BITS) * SUB;

export interface DelaySummary {
  readonly count: number;
  /** null while count is 0. Negative values (clocks apart) count as 0 in the percentiles. */
  readonly p50: number | null;
  readonly p99: number | null;
  readonly min: number | null;
  readonly max: number | null;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private min = Infinity;
  private max = -Infinity;

  get count(): number {
    return this.total;
  }

  record(value: number): void {
    this.counts[bucketOf(value)]++;
    this.total++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** The value at quantile q (0 < q ≤ 1): the upper edge of its bucket, never above max. */
  quantile(q: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(upperEdge(i), Math.max(this.max, 0));
    }
    return Math.max(this.max, 0);
  }

  summary(): DelaySummary {
    const empty = this.total === 0;
    return {
      count: this.total,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      min: empty ? null : this.min,
      max: empty ? null : this.max,
    };
  }
}

function bucketOf(value: number): number {
  const v = Math.min(Math.max(0, Math.floor(value)), 2 ** (MAX_EXP + 1) - 1);
  if (v < LINEAR) return v;
  const e = exponentOf(v);
  const sub = Math.floor(v / 2 ** (e - SUB_BITS)) - SUB;
  return LINEAR + (e - (SUB_BITS + 1)) * SUB + sub;
}

function upperEdge(bucket: number): number {
  if (bucket < LINEAR) return bucket;
  const e = Math.floor((bucket - LINEAR) / SUB) + SUB_BITS + 1;
  const sub = (bucket - LINEAR) % SUB;
  return (SUB + sub + 1) * 2 ** (e - SUB_BITS) - 1;
}

/** floor(log2(v)) for v ≥ 1, exact (Math.log2 may round up just below a power of two). */
function exponentOf(v: number): number {
  let e = Math.floor(Math.log2(v));
  if (2 ** e > v) e--;
  else if (2 ** (e + 1) <= v) e++;
  return e;
}
