/**
 * One line → one reading per tag, from the named groups of the device's pattern. A line the
 * pattern does not match gives nothing (the caller counts it); a line that matches gives a
 * reading for every tag, bad where a group's text is not a value of the tag's type.
 */
import type { SerialTag } from './schema.js';
import type { Reading } from '../../src/driver/contract.js';
import { convert } from './convert.js';

export class LineMatcher {
  private readonly regex: RegExp;

  constructor(pattern: string, private readonly tags: readonly SerialTag[]) {
    this.regex = new RegExp(pattern);
  }

  /** Readings with `ts` for every tag, or undefined when the line does not match. */
  match(line: string, ts: number): Reading[] | undefined {
    const m = this.regex.exec(line);
    if (!m) return undefined;
    return this.tags.map((tag): Reading => {
      const c = convert(tag, m.groups?.[tag.group]);
      return 'error' in c
        ? { tag: tag.name, value: null, quality: 'bad', ts, error: c.error }
        : { tag: tag.name, value: c.value, quality: 'good', ts };
    });
  }
}
