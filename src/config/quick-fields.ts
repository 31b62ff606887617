/**
 * Hand-written twins of fields.ts's zod fields for the common case, for configs of tens of
 * thousands of tags: zod spends microseconds and a dozen short-lived objects on each tag, and
 * under the shebang's 2 MB semi-space the garbage costs more than the checks. A quick field
 * accepts only a value its zod field accepts as it stands (a number written as a number, not
 * as text) and gives the same result; anything else is declined, and the zod schema, which
 * words every problem, validates the whole device. Each driver that uses them tests its quick
 * parse against its schema, and test/config/quick-load.test.ts the loader with and without.
 */
import { nameProblem } from './fields.js';
import { parseDuration } from './units.js';

/** A quick field's answer for a value it leaves to zod. */
const DECLINE = Symbol('decline');

export interface QuickKey {
  /** The value as the zod field gives it, or DECLINE. */
  readonly check: (value: unknown) => unknown;
  /** What the zod field's `.default()` gives for an absent key. */
  readonly default?: unknown;
  /** The zod field is `.optional()`: an absent key stays absent. */
  readonly optional?: true;
}

export const quickInt = (min: number, max: number): QuickKey['check'] =>
  (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : DECLINE);

export const quickEnum = (values: readonly string[]): QuickKey['check'] =>
  (v) => (typeof v === 'string' && values.includes(v) ? v : DECLINE);

const finite = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : DECLINE);
const nonNegative = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : DECLINE);
const boolean = (v: unknown) => (typeof v === 'boolean' ? v : DECLINE);
const name = (v: unknown) => (typeof v === 'string' && nameProblem(v) === undefined ? v : DECLINE);
/** duration(): the same parse, so `5s` needs no zod either. */
const positiveDuration = (v: unknown) => {
  const ms = parseDuration(v);
  return ms !== undefined && ms > 0 ? ms : DECLINE;
};

/** tagCommonShape's keys, in its order (a zod object gives its keys in the shape's order). */
export const quickTagCommon = {
  name: { check: name },
  poll_interval: { check: positiveDuration, optional: true },
  scale: { check: finite, default: 1 },
  offset: { check: finite, default: 0 },
  deadband: { check: nonNegative, optional: true },
  heartbeat: { check: positiveDuration, optional: true },
  writable: { check: boolean, default: false },
} as const satisfies Record<string, QuickKey>;

/**
 * `raw` as a z.strictObject of these keys gives it (keys in the same order), or undefined when
 * a key is unknown or a value is declined: zod then has the say.
 */
export function quickObject(raw: unknown, keys: Readonly<Record<string, QuickKey>>): Record<string, unknown> | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const input = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let known = 0;
  for (const key in keys) {
    const spec = keys[key];
    if (!Object.hasOwn(input, key)) {
      if ('default' in spec) out[key] = spec.default;
      else if (!spec.optional) return undefined;
      continue;
    }
    const value = spec.check(input[key]);
    if (value === DECLINE) return undefined;
    out[key] = value;
    known++;
  }
  // More keys than known ones: an unknown key, which zod names.
  for (const key in input) if (Object.hasOwn(input, key) && --known < 0) return undefined;
  return out;
}
