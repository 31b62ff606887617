import { describe, expect, it } from 'vitest';
import type { Reading } from '../../src/driver/contract.js';
import { currentVersion, LatestReading } from '../../src/scheduler/latest-reading.js';

const at = (ts: number, value: Reading['value'], extra: Partial<Reading> = {}): Reading => ({ tag: 't', value, quality: 'good', ts, ...extra });

describe('LatestReading: the version moves with what the status page shows', () => {
  it('keeps its version and change time for the same value read again, a new array with the same elements, or NaN again', () => {
    for (const value of [21.5, [1, 2.5, null], NaN, 'on', 2n ** 63n]) {
      const latest = new LatestReading(at(1, value));
      const { version } = latest;
      latest.update(at(2, Array.isArray(value) ? [...value] : value));
      expect(latest.version).toBe(version);
      expect(latest.changedTs).toBe(1);
      expect(latest.reading('t').ts).toBe(2);
    }
  });

  it('takes a new version, above every one before, when the value, quality or error changes', () => {
    const latest = new LatestReading(at(1, 5));
    const seen = [latest.version];
    const changes: Reading[] = [at(2, 6), at(3, 6, { quality: 'uncertain' }), at(4, null, { quality: 'bad', error: 'timeout' }), at(5, null, { quality: 'bad', error: 'refused' }), at(6, [6]), at(7, [6, 7])];
    for (const r of changes) {
      latest.update(r);
      expect(latest.version).toBeGreaterThan(seen[seen.length - 1]);
      expect(latest.changedTs).toBe(r.ts);
      seen.push(latest.version);
    }
    expect(currentVersion()).toBeGreaterThanOrEqual(latest.version);
    expect(latest.reading('t')).toEqual({ tag: 't', value: [6, 7], quality: 'good', ts: 7 });
  });
});
