import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CompletenessTracker, type Gap } from '../../src/audit/completeness.js';

/** One live message with one reading taken 10 ms before it arrived. */
function send(t: CompletenessTracker, seq: number, arrivedAt: number, historical = false) {
  return t.record(seq, { historical, readings: 1, readingTs: [arrivedAt - 10], arrivedAt });
}

describe('CompletenessTracker', () => {
  it('counts an in-order stream as complete', () => {
    const t = new CompletenessTracker();
    for (let seq = 1; seq <= 100; seq++) expect(send(t, seq, 1000 + seq)).toBe('new');
    const r = t.report(2000);
    expect(r).toMatchObject({
      messages: 100, readings: 100, duplicates: 0, outOfOrder: 0, historical: 0, historicalShare: 0,
      baseline: 1, firstSeq: 1, lastSeq: 100, beforeBaseline: 0, missing: 0, openGaps: 0, gaps: [],
      newestReadingTs: 1090, newestReadingAge: 910, lastArrivalAt: 1100,
    });
    expect(t.trackedRanges).toBe(1);
  });

  it('opens a gap when a higher seq arrives, shrinks it and closes it as the missing seqs come', () => {
    const t = new CompletenessTracker();
    send(t, 1, 1000);
    send(t, 2, 1001);
    send(t, 5, 1002);
    expect(t.report(1500).gaps).toEqual([{ from: 3, to: 4, since: 1002, missingFor: 498, notObserved: false }]);
    send(t, 4, 2000, true);
    expect(t.report(2500)).toMatchObject({ missing: 1, openGaps: 1, gaps: [{ from: 3, to: 3, since: 1002, missingFor: 1498, notObserved: false }] });
    send(t, 3, 3000, true);
    expect(t.report(3000)).toMatchObject({
      messages: 5, missing: 0, openGaps: 0, gaps: [], outOfOrder: 2, historical: 2, historicalShare: 0.4, lastSeq: 5,
    });
  });

  it('splits a gap when a seq in its middle arrives, both halves keeping the time it opened', () => {
    const t = new CompletenessTracker();
    send(t, 10, 0);
    send(t, 20, 100);
    send(t, 15, 200);
    expect(t.report(300).gaps).toEqual([
      { from: 11, to: 14, since: 100, missingFor: 200, notObserved: false },
      { from: 16, to: 19, since: 100, missingFor: 200, notObserved: false },
    ]);
    send(t, 25, 400);
    expect(t.report(500)).toMatchObject({ missing: 12, openGaps: 3 });
    expect(t.report(500).gaps[2]).toEqual({ from: 21, to: 24, since: 400, missingFor: 100, notObserved: false });
  });

  it('counts duplicates without counting their readings again', () => {
    const t = new CompletenessTracker();
    send(t, 1, 0);
    send(t, 2, 1);
    expect(send(t, 2, 2)).toBe('duplicate');
    send(t, 3, 3);
    expect(send(t, 1, 4)).toBe('duplicate');
    expect(t.report(10)).toMatchObject({ messages: 3, readings: 3, duplicates: 2, outOfOrder: 0, openGaps: 0, lastArrivalAt: 4 });
  });

  it('takes the first seq seen as the baseline when it joins mid-stream', () => {
    const t = new CompletenessTracker();
    send(t, 1000, 0);
    send(t, 999, 1, true);
    send(t, 1001, 2);
    expect(t.report(10)).toMatchObject({
      baseline: 1000, firstSeq: 999, lastSeq: 1001, beforeBaseline: 1, outOfOrder: 1, messages: 3, openGaps: 0,
    });
    send(t, 1003, 3);
    expect(t.report(10).gaps).toEqual([{ from: 1002, to: 1002, since: 3, missingFor: 7, notObserved: false }]);
  });

  it('with since, expects every seq from there on', () => {
    const t = new CompletenessTracker({ since: 1 });
    expect(t.report(0)).toMatchObject({ baseline: 1, firstSeq: null, openGaps: 0 });
    send(t, 4, 100);
    expect(t.report(100).gaps).toEqual([{ from: 1, to: 3, since: 100, missingFor: 0, notObserved: false }]);
  });

  it('lists at most maxGaps gaps but counts them all', () => {
    const t = new CompletenessTracker({ maxGaps: 2 });
    for (let seq = 0; seq <= 20; seq += 2) send(t, seq, seq);
    const r = t.report(100);
    expect(r.openGaps).toBe(10);
    expect(r.missing).toBe(10);
    expect(r.gaps.map((g) => g.from)).toEqual([1, 3]);
  });

  it('after sessionLost, takes open gaps below the next new live seq as not observed, and only those', () => {
    const t = new CompletenessTracker();
    send(t, 1, 0);
    send(t, 3, 1);
    t.sessionLost();
    expect(t.report(2)).toMatchObject({ missing: 0, notObserved: 1, gaps: [{ from: 2, to: 2, notObserved: true }] });
    // Neither a redelivery nor backlog says where the unseen live messages ended.
    expect(send(t, 3, 3)).toBe('duplicate');
    send(t, 6, 4, true);
    expect(t.report(5)).toMatchObject({ missing: 0, notObserved: 3 });
    send(t, 9, 6);
    send(t, 11, 7);
    expect(t.report(8)).toMatchObject({ missing: 1, notObserved: 5, openGaps: 4 });
    expect(t.report(8).gaps.map((g) => [g.from, g.to, g.notObserved])).toEqual([[2, 2, true], [4, 5, true], [7, 8, true], [10, 10, false]]);
    // A blind report (the audit is down right now) takes every gap as not observed.
    expect(t.report(9, true)).toMatchObject({ missing: 0, notObserved: 6 });
  });

  it('agrees with a model of the not-observed rule, for any arrival order and loss point', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ seq: fc.integer({ min: 0, max: 30 }), historical: fc.boolean() }), { minLength: 1, maxLength: 80 }),
        fc.nat(),
        (arrivals, cut) => {
          const lostAt = cut % (arrivals.length + 1);
          const t = new CompletenessTracker({ maxGaps: 1000 });
          const seen = new Set<number>();
          let firstLiveAfter: number | undefined;
          arrivals.forEach(({ seq, historical }, i) => {
            if (i === lostAt) t.sessionLost();
            const isNew = !seen.has(seq);
            t.record(seq, { historical, readings: 0, readingTs: [], arrivedAt: i });
            seen.add(seq);
            if (i >= lostAt && isNew && !historical && firstLiveAfter === undefined) firstLiveAfter = seq;
          });
          if (lostAt === arrivals.length) t.sessionLost();
          const baseline = arrivals[0].seq;
          const highest = Math.max(...seen);
          let missing = 0;
          let notObserved = 0;
          for (let s = baseline; s <= highest; s++) {
            if (seen.has(s)) continue;
            if (firstLiveAfter === undefined || s < firstLiveAfter) notObserved++;
            else missing++;
          }
          expect(t.report(1000)).toMatchObject({ missing, notObserved });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('rejects a seq that is not a non-negative integer', () => {
    const t = new CompletenessTracker();
    expect(() => send(t, -1, 0)).toThrow(RangeError);
    expect(() => send(t, 1.5, 0)).toThrow(RangeError);
    expect(() => new CompletenessTracker({ since: -3 })).toThrow(RangeError);
  });

  it('measures live and backlog delays apart, per reading', () => {
    const t = new CompletenessTracker();
    const arrivedAt = 10_000_000;
    // Live: 1000 readings delayed 1..1000 ms, in 10 messages of 100.
    for (let m = 0; m < 10; m++) {
      const readingTs = Array.from({ length: 100 }, (_, i) => arrivedAt - (m * 100 + i + 1));
      t.record(m + 1, { historical: false, readings: 100, readingTs, arrivedAt });
    }
    // Backlog: one message that waited an hour.
    t.record(11, { historical: true, readings: 2, readingTs: [arrivedAt - 3_600_000, arrivedAt - 3_599_000], arrivedAt });
    const { live, historical } = t.report(arrivedAt).delay;
    expect(live.count).toBe(1000);
    expect(live.min).toBe(1);
    expect(live.max).toBe(1000);
    expect(live.p50).toBeGreaterThanOrEqual(500);
    expect(live.p50).toBeLessThanOrEqual(500 * (1 + 1 / 64));
    expect(live.p99).toBeGreaterThanOrEqual(990);
    expect(live.p99).toBeLessThanOrEqual(1000);
    expect(historical).toMatchObject({ count: 2, min: 3_599_000, max: 3_600_000 });
    expect(t.report(arrivedAt)).toMatchObject({ readings: 1002, newestReadingTs: arrivedAt - 1, newestReadingAge: 1 });
  });

  it('keeps memory bounded over 1e6 seqs with duplicates and local reordering', () => {
    let state = 42;
    // mulberry32: a seeded generator, so a failure reproduces.
    const random = () => {
      state = (state + 0x6d2b79f5) | 0;
      let x = Math.imul(state ^ (state >>> 15), 1 | state);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
    };
    const t = new CompletenessTracker();
    const N = 1_000_000;
    const BLOCK = 32;
    let duplicates = 0;
    let maxRanges = 0;
    const started = performance.now();
    for (let base = 1; base <= N; base += BLOCK) {
      // Each block of 32 arrives shuffled (a backlog draining beside live data).
      const block = Array.from({ length: Math.min(BLOCK, N - base + 1) }, (_, i) => base + i);
      for (let i = block.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [block[i], block[j]] = [block[j], block[i]];
      }
      for (const seq of block) {
        send(t, seq, seq);
        if (random() < 0.05) {
          // A redelivery of something recent.
          send(t, Math.max(1, seq - Math.floor(random() * 1000)), seq);
          duplicates++;
        }
        maxRanges = Math.max(maxRanges, t.trackedRanges);
      }
    }
    const elapsed = performance.now() - started;
    const r = t.report(N);
    expect(r).toMatchObject({ messages: N, duplicates, openGaps: 0, missing: 0, firstSeq: 1, lastSeq: N });
    expect(t.trackedRanges).toBe(1);
    // Inside a shuffled block at most every other seq is missing: seen ranges + gaps ≤ 32 + 1.
    expect(maxRanges).toBeLessThanOrEqual(BLOCK + 1);
    // For the report: how fast record() is (not asserted; machines are shared).
    console.info(`1e6 seqs + ${duplicates} duplicates in ${elapsed.toFixed(0)} ms, at most ${maxRanges} ranges held`);
  });

  it('agrees with a model that remembers every seq, for any arrival order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 120 }),
        fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
        (seqs, since) => {
          const t = new CompletenessTracker({ since, maxGaps: 1000 });
          const seen = new Set<number>();
          const openedAt = new Map<number, number>();
          let baseline = since;
          let highest: number | undefined;
          let duplicates = 0;
          let outOfOrder = 0;
          let beforeBaseline = 0;
          seqs.forEach((seq, at) => {
            const outcome = send(t, seq, at);
            if (seen.has(seq)) {
              duplicates++;
              expect(outcome).toBe('duplicate');
              return;
            }
            expect(outcome).toBe('new');
            if (highest !== undefined && seq < highest) outOfOrder++;
            baseline ??= seq;
            if (seq < baseline) beforeBaseline++;
            for (let s = baseline; s < seq; s++) if (!seen.has(s) && !openedAt.has(s)) openedAt.set(s, at);
            seen.add(seq);
            highest = Math.max(highest ?? seq, seq);
          });
          const gaps: Gap[] = [];
          if (baseline !== undefined && highest !== undefined) {
            for (let s = baseline; s <= highest; s++) {
              if (seen.has(s)) continue;
              const last = gaps[gaps.length - 1];
              if (last && last.to === s - 1) {
                expect(openedAt.get(s)).toBe(last.since);
                gaps[gaps.length - 1] = { ...last, to: s };
              } else {
                gaps.push({ from: s, to: s, since: openedAt.get(s)! });
              }
            }
          }
          const r = t.report(1000);
          expect(r.gaps.map(({ from, to, since: opened }) => ({ from, to, since: opened }))).toEqual(gaps);
          expect(r).toMatchObject({ messages: seen.size, duplicates, outOfOrder, beforeBaseline, openGaps: gaps.length });
          expect(r.missing).toBe(gaps.reduce((n, g) => n + g.to - g.from + 1, 0));
          expect(r.notObserved).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
