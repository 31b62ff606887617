/**
 * The drop warnings: every dropped seq named once, as ranges, at most one line per reason per
 * 10 s window (or per 64 ranges), nothing lost between windows.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DropLog, formatRanges, parseRanges } from '../../src/buffer/drop-log.js';
import { captureLog } from './helpers.js';

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

const warnings = (log: ReturnType<typeof captureLog>) => log.lines().filter((l) => l.level === 40);

describe('DropLog', () => {
  it('formats and parses ranges', () => {
    expect(formatRanges([[3, 7], [9, 9], [12, 13]])).toBe('3-7,9,12-13');
    expect(parseRanges('3-7,9,12-13')).toEqual([3, 4, 5, 6, 7, 9, 12, 13]);
    expect(parseRanges('')).toEqual([]);
  });

  it('logs the first drop at once, sums the window, and merges touching ranges', () => {
    const log = captureLog();
    const drops = new DropLog(log.log);
    drops.record('full', 6, 2, [[1, 2]]);
    expect(warnings(log)).toMatchObject([{ reason: 'full', readings: 6, messages: 2, seqs: '1-2' }]);
    drops.record('full', 3, 1, [[3, 3]]);
    drops.record('full', 3, 1, [[4, 4]]);
    drops.record('full', 3, 1, [[9, 9]]);
    expect(warnings(log)).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    expect(warnings(log)[1]).toMatchObject({ reason: 'full', readings: 9, messages: 3, seqs: '3-4,9' });
  });

  it('keeps reasons apart, and close() logs what a window still holds', () => {
    const log = captureLog();
    const drops = new DropLog(log.log);
    drops.record('full', 1, 1, [[5, 5]]);
    drops.record('max_age', 2, 1, [[6, 6]]);
    drops.record('max_age', 2, 1, [[8, 8]]);
    drops.flush();
    expect(warnings(log).map((l) => [l.reason, l.seqs])).toEqual([['full', '5'], ['max_age', '6'], ['max_age', '8']]);
  });

  it('closes a window early after 64 ranges, so a line stays short', () => {
    const log = captureLog();
    const drops = new DropLog(log.log);
    drops.record('full', 1, 1, [[1, 1]]);
    for (let i = 0; i < 64; i++) drops.record('full', 1, 1, [[10 + 2 * i, 10 + 2 * i]]);
    expect(warnings(log)).toHaveLength(2);
    expect(parseRanges(warnings(log)[1].seqs as string)).toHaveLength(64);
    drops.flush();
    const named = warnings(log).flatMap((l) => parseRanges(l.seqs as string));
    expect(named).toHaveLength(65);
  });
});
