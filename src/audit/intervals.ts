/**
 * A set of integers kept as sorted, disjoint, non-adjacent inclusive ranges.
 *
 * An audit may run for days over millions of seqs; a stream without loss stays one range, so
 * memory grows with the number of holes, not with the number of messages.
 */
export class IntervalSet {
  // Parallel arrays: starts[i]..ends[i], ascending, with starts[i+1] > ends[i] + 1.
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  /** Number of disjoint ranges held (the memory the set uses). */
  get rangeCount(): number {
    return this.starts.length;
  }

  has(n: number): boolean {
    const i = this.rangeAtOrBefore(n);
    return i >= 0 && n <= this.ends[i];
  }

  /** Adds n; returns false when it was already in the set. */
  add(n: number): boolean {
    const i = this.rangeAtOrBefore(n);
    if (i >= 0 && n <= this.ends[i]) return false;
    const joinsLeft = i >= 0 && this.ends[i] === n - 1;
    const joinsRight = i + 1 < this.starts.length && this.starts[i + 1] === n + 1;
    if (joinsLeft && joinsRight) {
      this.ends[i] = this.ends[i + 1];
      this.starts.splice(i + 1, 1);
      this.ends.splice(i + 1, 1);
    } else if (joinsLeft) {
      this.ends[i] = n;
    } else if (joinsRight) {
      this.starts[i + 1] = n;
    } else {
      this.starts.splice(i + 1, 0, n);
      this.ends.splice(i + 1, 0, n);
    }
    return true;
  }

  /** The ranges, ascending. */
  ranges(): Array<[number, number]> {
    return this.starts.map((s, i) => [s, this.ends[i]]);
  }

  /** Index of the last range starting at or before n, or -1. */
  private rangeAtOrBefore(n: number): number {
    // Most arrivals extend the last range: check it before searching.
    const last = this.starts.length - 1;
    if (last < 0 || n >= this.starts[last]) return last;
    let lo = 0;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= n) lo = mid;
      else hi = mid - 1;
    }
    return this.starts[lo] <= n ? lo : -1;
  }
}
