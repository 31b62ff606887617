/** What every fuzzed read must give back, whatever the device sent. */
import { expect } from 'vitest';
import type { ModbusTag } from '../../drivers/modbus/schema.js';
import type { Reading } from '../../src/driver/contract.js';

/** The JS type a good reading of each Modbus tag type carries. */
function goodValue(tag: ModbusTag, value: unknown): boolean {
  switch (tag.type) {
    case 'bool': return typeof value === 'boolean';
    case 'string': return typeof value === 'string';
    case 'int64':
    case 'uint64': return typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value));
    default: return typeof value === 'number' && Number.isFinite(value);
  }
}

/** One reading per tag, in order; good ones of the tag's type, bad ones null with a reason. */
export function expectWellFormed(readings: readonly Reading[], tags: readonly ModbusTag[]): void {
  expect(readings.map((r) => r.tag)).toEqual(tags.map((t) => t.name));
  readings.forEach((r, i) => {
    if (r.quality === 'good') {
      expect(goodValue(tags[i], r.value), `${r.tag}: ${String(r.value)}`).toBe(true);
    } else {
      expect(r.quality).toBe('bad');
      expect(r.value).toBeNull();
      expect(r.error).toMatch(/\w/);
    }
    expect(Number.isFinite(r.ts)).toBe(true);
  });
}

/** A rejected read must be the connection going away, in words. */
export function expectLinkLoss(err: unknown): void {
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(/connection|Modbus TCP|frame|closed|port/i);
}
