import { describe, expect, it } from 'vitest';
import { ReportFilter } from '../../src/scheduler/report-filter.js';
import type { ModbusTag } from '../../drivers/modbus/schema.js';
import type { Reading } from '../../src/driver/contract.js';

const tag = (extra: Partial<ModbusTag> = {}): ModbusTag => ({
  name: 't', poll_interval: 1000, scale: 1, offset: 0, writable: false,
  area: 'holding', address: 0, type: 'float32', byte_order: 'ABCD', ...extra,
});
const good = (value: Reading['value']): Reading => ({ tag: 't', value, quality: 'good', ts: 1 });
const bad = (error = 'timeout'): Reading => ({ tag: 't', value: null, quality: 'bad', ts: 1, error });

/** Feeds values at 1 s steps and returns which were published. */
function run(t: ModbusTag, readings: Reading[]): boolean[] {
  const f = new ReportFilter();
  return readings.map((r, i) => f.accept(t, r, i * 1000));
}

describe('report by exception', () => {
  it('publishes every poll without a deadband', () => {
    expect(run(tag(), [good(1), good(1), good(1)])).toEqual([true, true, true]);
  });

  it('holds back readings within the deadband of the last published value', () => {
    // 10 → 10.4 (within 0.5) → 10.6 (beyond 0.5 of 10) → 10.9 (within 0.5 of 10.6) → 11.2
    expect(run(tag({ deadband: 0.5 }), [good(10), good(10.4), good(10.6), good(10.9), good(11.2)]))
      .toEqual([true, false, true, false, true]);
  });

  it('deadband 0 publishes on any change only', () => {
    expect(run(tag({ deadband: 0 }), [good(1), good(1), good(2), good(2), good(true), good(true)]))
      .toEqual([true, false, true, false, true, false]);
  });

  it('compares strings and bigints by value', () => {
    expect(run(tag({ deadband: 0 }), [good('a'), good('a'), good('b')])).toEqual([true, false, true]);
    expect(run(tag({ deadband: 2 }), [good(10n ** 18n), good(10n ** 18n + 2n), good(10n ** 18n + 3n)])).toEqual([true, false, true]);
  });

  it('republishes an unchanged value once the heartbeat has passed', () => {
    // heartbeat 2.5 s at 1 s polls: published at 0 s, then 3 s, then 6 s
    expect(run(tag({ deadband: 0, heartbeat: 2500 }), Array.from({ length: 7 }, () => good(5))))
      .toEqual([true, false, false, true, false, false, true]);
  });

  it('publishes a bad reading once per transition, and the recovery', () => {
    expect(run(tag({ deadband: 0 }), [good(1), bad(), bad(), bad('other'), good(1), good(1), bad()]))
      .toEqual([true, true, false, false, true, false, true]);
    expect(run(tag(), [bad(), bad(), good(3)])).toEqual([true, false, true]);
  });

  it('a quality change publishes even within the deadband', () => {
    const uncertain: Reading = { tag: 't', value: 1, quality: 'uncertain', ts: 1 };
    expect(run(tag({ deadband: 5 }), [good(1), uncertain, good(1)])).toEqual([true, true, true]);
  });
});
