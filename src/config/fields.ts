/**
 * Zod pieces shared by the core schema and the driver schemas, so a rule (a name, a range, a
 * tag's common keys) is written once and reads the same in every error message. A `.meta()`
 * says in JSON Schema what a refinement checks in code, for `floorgate schema` (json-schema.ts).
 */
import { z } from 'zod';
import { duration } from './units.js';
import { repr } from './words.js';

/**
 * Values from `${VAR}` are strings (a password "0123" must stay "0123"), so where a number or
 * true/false is expected, its text is accepted too: `port: ${PORT}` works, quoted or not (and
 * inside { } or [ ] it must be quoted, as `{` and `}` end a plain value there).
 */
const NUMBER_TEXT = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

export function numberFromText(value: unknown): unknown {
  return typeof value === 'string' && NUMBER_TEXT.test(value.trim()) ? Number(value) : value;
}

function booleanFromText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : value;
}

export const number = z.preprocess(numberFromText, z.number());
export const boolean = z.preprocess(booleanFromText, z.boolean());

/**
 * Device and tag names are MQTT topic levels (`…/{device}/{tag}`), Sparkplug device and metric
 * names, metric label values and JSON strings. Only a topic level is picky: `/` would split it,
 * `+` and `#` are wildcards, and control characters (NUL above all) and lone surrogates are
 * not valid there. Everything else is taken as written, so `Zone1.Temp`, as Kepware and
 * Ignition name tags, stays `Zone1.Temp` upstream.
 */
const CONTROL_CHARACTERS = String.raw`\u0000-\u001f\u007f-\u009f`; // \p{Cc}, spelled out for JSON Schema (no flags there)
const NOT_IN_TOPIC_LEVEL = new RegExp(`[/+#${CONTROL_CHARACTERS}\\p{Cs}]`, 'gu');
/** What a JSON Schema can say of a name: lone surrogates (\p{Cs}) need the u flag, so only the loader refuses those. */
const NAME_PATTERN = `^[^/+#${CONTROL_CHARACTERS}]+$`;

/** Why a device or tag name cannot be used, with a name that can; undefined when it can. */
export function nameProblem(s: string): string | undefined {
  if (s.length === 0) return 'a name must not be empty';
  const unsafe = [...new Set(s.match(NOT_IN_TOPIC_LEVEL))];
  if (unsafe.length === 0) return undefined;
  const replaced = (slash: string) => s.replace(NOT_IN_TOPIC_LEVEL, (ch) => (ch === '/' ? slash : '_'));
  // A "/" usually separates a path, as a "." does in SCADA tag names.
  const suggestions = unsafe.includes('/') ? [replaced('.'), replaced('_')] : [replaced('_')];
  return `invalid name ${repr(s)}: ${unsafe.map(repr).join(', ')} cannot be part of a name (names become MQTT topic levels); ` +
    `use e.g. ${suggestions.map(repr).join(' or ')}`;
}

export const name = z.string().superRefine((s, ctx) => {
  const problem = nameProblem(s);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', input: s, message: problem });
}).meta({ pattern: NAME_PATTERN });

/** gateway.id is also the default MQTT client id, which a broker need only accept in letters and digits (MQTT 3.1.1 §3.1.3.1). */
const GATEWAY_ID = /^[a-zA-Z0-9_-]+$/;

export const gatewayId = z.string().refine((s) => GATEWAY_ID.test(s), {
  error: (iss) => `invalid name ${repr(iss.input)}: use only letters, digits, _ and -`,
  abort: true,
}).meta({ pattern: GATEWAY_ID.source });

export const nonEmptyString = z.string().refine((s) => s.length > 0, { error: 'must not be empty', abort: true }).meta({ minLength: 1 });

export function intIn(min: number, max: number) {
  return number.refine((n) => Number.isInteger(n) && n >= min && n <= max, {
    error: (iss) => `must be an integer from ${min} to ${max}, got ${repr(iss.input)}`,
    abort: true,
  }).meta({ type: 'integer', minimum: min, maximum: max });
}

export const nonNegativeNumber = number.refine((n) => Number.isFinite(n) && n >= 0, {
  error: (iss) => `must be 0 or more, got ${repr(iss.input)}`,
  abort: true,
}).meta({ minimum: 0 });

const finiteNumber = number.refine(Number.isFinite, { error: (iss) => `must be a finite number, got ${repr(iss.input)}`, abort: true });

/** Keys every tag has, whatever its driver (see TagCommon). poll_interval, heartbeat and deadband fall back to the device's. */
export const tagCommonShape = {
  name,
  poll_interval: duration().optional(),
  scale: finiteNumber.default(1),
  offset: finiteNumber.default(0),
  deadband: nonNegativeNumber.optional(),
  heartbeat: duration().optional(),
  writable: boolean.default(false),
};

/** Keys every device has, besides `driver` (each schema pins its own literal) and `tags`. */
export const deviceCommonShape = {
  name,
  poll_interval: duration().default(1000),
  timeout: duration().default(1000),
  heartbeat: duration().optional(),
  deadband: nonNegativeNumber.optional(),
};

/** An RS-232/485 line (see SerialLine): Modbus RTU and raw serial instruments. */
export const serialLineShape = {
  port: nonEmptyString,
  baud_rate: intIn(50, 4_000_000).default(9600),
  parity: z.enum(['none', 'even', 'odd']).default('none'),
  data_bits: z.preprocess(numberFromText, z.literal([7, 8])).default(8),
  stop_bits: z.preprocess(numberFromText, z.literal([1, 2])).default(1),
};

interface TagDefaults {
  readonly poll_interval?: number;
  readonly heartbeat?: number;
  readonly deadband?: number;
}

/**
 * The tag's own poll_interval, heartbeat and deadband, else its device's (absent stays absent),
 * set on `tag` itself: a fresh object, not yet handed out.
 */
export function fillDeviceDefaults<T extends TagDefaults>(
  device: TagDefaults & { readonly poll_interval: number },
  tag: T,
): T & { poll_interval: number } {
  const out = tag as { -readonly [K in keyof T]: T[K] } & { poll_interval: number; heartbeat?: number; deadband?: number };
  out.poll_interval = tag.poll_interval ?? device.poll_interval;
  const heartbeat = tag.heartbeat ?? device.heartbeat;
  if (heartbeat !== undefined) out.heartbeat = heartbeat;
  const deadband = tag.deadband ?? device.deadband;
  if (deadband !== undefined) out.deadband = deadband;
  return out;
}

/**
 * fillDeviceDefaults on a copy. Object.assign, not a spread: keys added to a spread's
 * exact-size copy go to a second store (at 50,000 tags, 25 MB more and slower than this).
 */
export function inheritDeviceDefaults<T extends TagDefaults>(
  device: TagDefaults & { readonly poll_interval: number },
  tag: T,
): T & { poll_interval: number } {
  return fillDeviceDefaults(device, Object.assign({}, tag));
}

/**
 * A rule across keys found a problem at `path` (relative to what it checks). Rules take this
 * rather than zod's context so a quick parse (quick-fields.ts) runs them too.
 */
export type ReportProblem = (path: (string | number)[], message: string) => void;

/** Problems a rule reports, as issues of the zod refinement running it. */
export function issuesIn(ctx: z.RefinementCtx): ReportProblem {
  return (path, message) => ctx.addIssue({ code: 'custom', path, message });
}

/** scale and offset mean nothing for a bool or a string: setting them is a mistake worth naming. */
export function checkScaleOnlyNumeric(
  tag: { readonly scale: number; readonly offset: number; readonly type: string },
  report: ReportProblem,
): void {
  if (tag.type !== 'bool' && tag.type !== 'string') return;
  if (tag.scale !== 1) report(['scale'], `scale applies only to numeric types, not ${tag.type}`);
  if (tag.offset !== 0) report(['offset'], `offset applies only to numeric types, not ${tag.type}`);
}
