/**
 * The text of one named group → the tag's typed, scaled value, or why it is not one.
 *
 * - float64: a decimal number, sign and spaces allowed in front ("-  1.5", "+12", ".5", "1e3");
 *   the decimal separator is ".". value = number · scale + offset.
 * - int64: an integer, exact up to ±2^63−1 (a bigint beyond ±2^53−1) when scale is 1 and offset 0;
 *   scaled, it becomes a float like every scaled Modbus integer.
 * - bool: false when the group took no part in the match, matched nothing, a number equal to 0,
 *   or false/off/no (any case); true for anything else. So `(?<stable>ST)?` reads a stability flag.
 * - string: the text as it came (latin1), empty included.
 * A group that took no part in the match gives a bad reading, except for bool.
 */
import type { SerialTag } from './schema.js';
import type { Value } from '../../src/driver/contract.js';
import { escapeText } from './escape.js';

export type Converted = { readonly value: Value } | { readonly error: string };

const DECIMAL = /^([-+]?)\s*((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$/;
const INTEGER = /^([-+]?)\s*(\d+)$/;
const FALSE_WORDS = new Set(['false', 'off', 'no']);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function scaled(tag: SerialTag, raw: number): Converted {
  const value = raw * tag.scale + tag.offset;
  return Number.isFinite(value) ? { value } : { error: `value ${value} is out of range` };
}

function toFloat(tag: SerialTag, text: string): Converted {
  const m = DECIMAL.exec(text.trim());
  if (!m) return { error: `cannot read ${escapeText(text, 40)} as a number` };
  return scaled(tag, Number(m[1] + m[2]));
}

function toInt(tag: SerialTag, text: string): Converted {
  const m = INTEGER.exec(text.trim());
  if (!m) return { error: `cannot read ${escapeText(text, 40)} as an integer` };
  const raw = BigInt(m[1] + m[2]);
  if (raw < INT64_MIN || raw > INT64_MAX) return { error: `${m[1]}${m[2]} is out of the int64 range` };
  if (tag.scale !== 1 || tag.offset !== 0) return scaled(tag, Number(raw));
  const n = Number(raw);
  return { value: Number.isSafeInteger(n) ? n : raw };
}

function toBool(text: string | undefined): Converted {
  const t = (text ?? '').trim();
  if (t === '') return { value: false };
  const n = DECIMAL.exec(t);
  if (n) return { value: Number(n[1] + n[2]) !== 0 };
  return { value: !FALSE_WORDS.has(t.toLowerCase()) };
}

/** `text` undefined: the group took no part in the match (it sits in an optional branch). */
export function convert(tag: SerialTag, text: string | undefined): Converted {
  if (tag.type === 'bool') return toBool(text);
  if (text === undefined) return { error: `group "${tag.group}" took no part in the match` };
  switch (tag.type) {
    case 'string': return { value: text };
    case 'float64': return toFloat(tag, text);
    case 'int64': return toInt(tag, text);
  }
}
