/**
 * Durations and sizes as users write them, normalised to milliseconds and bytes.
 *
 * Duration: a number of milliseconds, or a decimal with a unit: 250ms, 1.5s, 2m, 1h, 7d.
 * Size: a number of bytes, or a decimal with a unit: B; KB/MB/GB/TB are powers of 1000,
 * KiB/MiB/GiB/TiB powers of 1024 (units are case-insensitive, so 512mib works too).
 */
import { z } from 'zod';
import { repr } from './words.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_TEXT = String.raw`(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)?`;
const DURATION_RE = new RegExp(`^${DURATION_TEXT}$`);

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};
// Case-insensitive by its classes, not a flag: the JSON Schema pattern (below) takes no flags.
const SIZE_TEXT = String.raw`(\d+(?:\.\d+)?|\.\d+)\s?([kKmMgGtT][iI]?[bB]|[bB])?`;
const SIZE_RE = new RegExp(`^${SIZE_TEXT}$`);
/** The loader trims a value; a JSON Schema pattern must allow what it trims. */
const trimmed = (text: string) => String.raw`^\s*${text}\s*$`;
/** At least one digit 1-9 before the unit: the text of a number greater than 0. */
const NOT_ZERO = '(?=[^1-9]*[1-9])';

/** Milliseconds, or undefined when the value is not a duration at all. Negative numbers pass through. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = DURATION_RE.exec(value.trim());
  if (!m) return undefined;
  // Rounded to the microsecond so 0.7s is 700, not 700.0000000000001.
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms'] * 1000) / 1000;
}

/** Whole bytes, or undefined when the value is not a size at all. Negative numbers pass through. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.floor(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const m = SIZE_RE.exec(value.trim());
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]);
}

/**
 * A duration in ms. `positive` for intervals and timeouts (zero would spin or never wait);
 * `nonnegative` where zero has a meaning of its own (MQTT keepalive 0 = off).
 */
export function duration(bound: 'positive' | 'nonnegative' = 'positive') {
  const positive = bound === 'positive';
  const jsonShape = {
    anyOf: [
      { type: 'number', ...(positive ? { exclusiveMinimum: 0 } : { minimum: 0 }) },
      { type: 'string', pattern: trimmed(`${positive ? NOT_ZERO : ''}${DURATION_TEXT}`) },
    ],
  };
  return z.unknown().meta(jsonShape).transform((value, ctx): number => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        input: value,
        message: `invalid duration ${repr(value)}: use a number of milliseconds or e.g. 250ms, 5s, 2m, 7d`,
      });
      return z.NEVER;
    }
    if (bound === 'positive' ? ms <= 0 : ms < 0) {
      ctx.addIssue({
        code: 'custom',
        input: value,
        message: `must be ${bound === 'positive' ? 'greater than 0' : '0 or more'}, got ${repr(value)}`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/** A size in bytes, at least `min` (default 1). */
export function size(min = 1) {
  // A size with a unit is only checked against `min` in code: "0.5KB" passes the pattern.
  const jsonShape = { anyOf: [{ type: 'number', minimum: min }, { type: 'string', pattern: trimmed(`${NOT_ZERO}${SIZE_TEXT}`) }] };
  return z.unknown().meta(jsonShape).transform((value, ctx): number => {
    const bytes = parseSize(value);
    if (bytes === undefined) {
      ctx.addIssue({
        code: 'custom',
        input: value,
        message: `invalid size ${repr(value)}: use a number of bytes or e.g. 512MiB, 2GB`,
      });
      return z.NEVER;
    }
    if (bytes < min) {
      const message = min === 1 ? `must be greater than 0, got ${repr(value)}` : `must be at least ${min} bytes, got ${repr(value)}`;
      ctx.addIssue({ code: 'custom', input: value, message });
      return z.NEVER;
    }
    return bytes;
  });
}
