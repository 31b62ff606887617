/**
 * Report by exception, per reference §2–§3:
 * - without a deadband every reading is published;
 * - with `deadband: D` a reading within D of the last published value is held back, unless
 *   `heartbeat` has passed since that tag was last published or its quality changed;
 * - a bad reading is published once per transition into bad, not every poll.
 */
import type { Reading, Value } from '../driver/contract.js';
import type { TagCommon } from '../config/types.js';

interface Published {
  value: Value;
  quality: Reading['quality'];
  /** Monotonic ms. */
  at: number;
}

export class ReportFilter {
  private readonly last = new Map<string, Published>();

  /** True when the reading should be published; remembers it if so. */
  accept(tag: TagCommon, reading: Reading, now: number): boolean {
    const prev = this.last.get(tag.name);
    if (!this.changed(tag, reading, prev, now)) return false;
    if (prev) {
      prev.value = reading.value;
      prev.quality = reading.quality;
      prev.at = now;
    } else {
      this.last.set(tag.name, { value: reading.value, quality: reading.quality, at: now });
    }
    return true;
  }

  /** Forget a tag (removed on reload) so a re-added one starts afresh. */
  forget(tagName: string): void {
    this.last.delete(tagName);
  }

  private changed(tag: TagCommon, reading: Reading, prev: Published | undefined, now: number): boolean {
    if (!prev || prev.quality !== reading.quality) return true;
    if (reading.quality === 'bad') return false;
    if (tag.deadband === undefined) return true;
    if (tag.heartbeat !== undefined && now - prev.at >= tag.heartbeat) return true;
    return differsBeyond(prev.value, reading.value, tag.deadband);
  }
}

function differsBeyond(a: Value, b: Value, deadband: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) > deadband;
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    const diff = a > b ? a - b : b - a;
    return diff > BigInt(Math.floor(deadband));
  }
  if (Array.isArray(a) || Array.isArray(b)) return JSON.stringify(a) !== JSON.stringify(b);
  return a !== b;
}
