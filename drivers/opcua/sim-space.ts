/**
 * The OPC UA simulator's address space, as data: which variables exist, their types, and how
 * their values move (static, counter, sine, random walk). Parsed from a YAML/JSON file or the
 * built-in oven below; pure, no node-opcua here.
 *
 * Node ids are written as the gateway will use them, e.g. `ns=1;s=Oven.Zone1.Temperature`:
 * ns=1 is the simulator's own namespace, and the dotted path becomes the folder tree that
 * `floorgate browse` shows (Objects › Oven › Zone1 › Temperature).
 */
import fs from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { duration } from '../../src/config/units.js';

export const SIM_TYPES = [
  'Boolean', 'SByte', 'Byte', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64',
  'Float', 'Double', 'String', 'DateTime', 'ByteString',
] as const;
export type SimType = (typeof SIM_TYPES)[number];

const NUMERIC: ReadonlySet<SimType> = new Set([
  'SByte', 'Byte', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64', 'Float', 'Double',
]);

const INT_RANGE: Partial<Record<SimType, readonly [number, number]>> = {
  SByte: [-128, 127], Byte: [0, 255], Int16: [-32768, 32767], UInt16: [0, 65535],
  Int32: [-2147483648, 2147483647], UInt32: [0, 4294967295],
};

/** A static value as written in the file: 64-bit integers may be decimal strings to keep precision. */
const scalar = z.union([z.boolean(), z.number(), z.string()]);

const variableSchema = z.strictObject({
  /** ns=1;s=Dotted.Path (string ids only: the path is also the browse tree). */
  node_id: z.string().regex(/^ns=1;s=[^.\s][^\s]*$/, 'use ns=1;s=Dotted.Path, e.g. ns=1;s=Oven.Zone1.Temperature'),
  type: z.enum(SIM_TYPES),
  kind: z.enum(['static', 'counter', 'sine', 'random_walk']).default('static'),
  /** static: the value (a list makes an array variable); random_walk: the start. */
  value: z.union([scalar, z.array(scalar)]).optional(),
  /** counter/random_walk: the change per update. */
  step: z.number().positive().default(1),
  /** sine/random_walk bounds. */
  min: z.number().default(0),
  max: z.number().default(100),
  /** sine: one full wave. */
  period: duration().default(60_000),
  /** How often a moving value changes. */
  interval: duration().default(1000),
  /** false: read only, a write is answered BadNotWritable. A moving value overwrites a write at its next change. */
  writable: z.boolean().default(true),
  description: z.string().optional(),
});

export type SimVariable = z.infer<typeof variableSchema>;

const spaceSchema = z.strictObject({
  /** Anonymous sessions are always allowed; this user also may sign in. */
  user: z.strictObject({ username: z.string().min(1), password: z.string() }).optional(),
  variables: z.array(variableSchema).min(1),
}).superRefine((space, ctx) => {
  const seen = new Set<string>();
  space.variables.forEach((v, i) => {
    const at = (key: string) => ['variables', i, key];
    if (seen.has(v.node_id)) ctx.addIssue({ code: 'custom', path: at('node_id'), message: `duplicate node id ${v.node_id}` });
    seen.add(v.node_id);
    if (v.kind !== 'static' && !NUMERIC.has(v.type)) {
      ctx.addIssue({ code: 'custom', path: at('kind'), message: `${v.kind} needs a numeric type, not ${v.type}` });
    }
    if (v.kind !== 'static' && Array.isArray(v.value)) {
      ctx.addIssue({ code: 'custom', path: at('value'), message: 'only static variables can be arrays' });
    }
    if (v.min > v.max) ctx.addIssue({ code: 'custom', path: at('min'), message: 'min must not exceed max' });
  });
});

export type SimSpace = z.infer<typeof spaceSchema>;

export const DEFAULT_USER = { username: 'operator', password: 'secret' } as const;

/** The built-in oven: every supported type once, moving and static values, an array, setpoints to write and a read-only serial number. */
export const DEFAULT_SPACE: SimSpace = parseSimSpace({
  user: DEFAULT_USER,
  variables: [
    { node_id: 'ns=1;s=Oven.Zone1.Temperature', type: 'Double', kind: 'sine', min: 180, max: 220, period: '60s', interval: '200ms' },
    { node_id: 'ns=1;s=Oven.Zone2.Temperature', type: 'Double', kind: 'random_walk', value: 200, min: 190, max: 210, step: 0.5, interval: '500ms' },
    { node_id: 'ns=1;s=Oven.Counter', type: 'UInt32', kind: 'counter', interval: '500ms' },
    { node_id: 'ns=1;s=Oven.BatchId', type: 'String', value: 'B-1042' },
    { node_id: 'ns=1;s=Oven.Running', type: 'Boolean', value: true },
    { node_id: 'ns=1;s=Oven.Fan.Speed', type: 'Int16', kind: 'random_walk', value: 1200, min: 1100, max: 1300, step: 5, interval: '1s' },
    { node_id: 'ns=1;s=Oven.Fan.Level', type: 'Byte', value: 3 },
    { node_id: 'ns=1;s=Oven.Pressure', type: 'Float', kind: 'sine', min: 0.9, max: 1.1, period: '20s', interval: '500ms' },
    { node_id: 'ns=1;s=Oven.EnergyWh', type: 'Int64', value: '9007199254740993' },
    { node_id: 'ns=1;s=Oven.Runtime', type: 'UInt64', value: 86400 },
    { node_id: 'ns=1;s=Oven.Setpoints', type: 'Double', value: [180, 200, 220] },
    { node_id: 'ns=1;s=Oven.Alarms', type: 'Boolean', value: [false, true, false] },
    { node_id: 'ns=1;s=Oven.LastCleaned', type: 'DateTime', value: '2025-01-15T06:30:00.000Z' },
    { node_id: 'ns=1;s=Oven.Recipe', type: 'ByteString', value: 'AQID/w==' },
    { node_id: 'ns=1;s=Oven.Zone1.Setpoint', type: 'Double', value: 200 },
    { node_id: 'ns=1;s=Oven.Fan.SpeedSetpoint', type: 'Int16', value: 1200 },
    { node_id: 'ns=1;s=Oven.SerialNumber', type: 'String', value: 'OV-2291', writable: false },
  ],
}, 'the built-in address space');

export class SimSpaceError extends Error {}

/** Reads and validates an address space file (YAML or JSON). */
export function loadSimSpace(file: string): SimSpace {
  let raw: unknown;
  try {
    raw = parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SimSpaceError(`${file}: ${(err as Error).message}`);
  }
  return parseSimSpace(raw, file);
}

/** Validates an address space given as data; errors name `source` and the key. */
export function parseSimSpace(raw: unknown, source = 'address space'): SimSpace {
  const result = spaceSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${source}: ${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new SimSpaceError(lines.join('\n'));
  }
  for (const [i, v] of result.data.variables.entries()) {
    const problem = checkStatic(v);
    if (problem) throw new SimSpaceError(`${source}: variables.${i}.value: ${problem}`);
  }
  return result.data;
}

/** Why a static value does not fit its type, or undefined when it does. */
function checkStatic(v: SimVariable): string | undefined {
  if (v.value === undefined) return undefined;
  for (const item of Array.isArray(v.value) ? v.value : [v.value]) {
    try {
      staticValue(v.type, item);
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

/** A JS value for node-opcua's Variant of that type (64-bit integers as bigint, DateTime as Date, ByteString as Buffer). */
export type SimValue = boolean | number | bigint | string | Date | Buffer;

export function staticValue(type: SimType, v: boolean | number | string): SimValue {
  const fail = () => new Error(`${JSON.stringify(v)} is not a valid ${type}`);
  switch (type) {
    case 'Boolean':
      if (typeof v !== 'boolean') throw fail();
      return v;
    case 'String':
      if (typeof v !== 'string') throw fail();
      return v;
    case 'DateTime': {
      const d = new Date(typeof v === 'boolean' ? NaN : v);
      if (Number.isNaN(d.getTime())) throw fail();
      return d;
    }
    case 'ByteString':
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw fail();
      return Buffer.from(v, 'base64');
    case 'Int64':
    case 'UInt64': {
      if (typeof v === 'boolean' || (typeof v === 'number' && !Number.isInteger(v))) throw fail();
      let b: bigint;
      try { b = BigInt(v); } catch { throw fail(); }
      const [lo, hi] = type === 'Int64' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      if (b < lo || b > hi) throw fail();
      return b;
    }
    case 'Float':
    case 'Double':
      if (typeof v !== 'number') throw fail();
      return v;
    default: {
      const range = INT_RANGE[type]!;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) throw fail();
      return v;
    }
  }
}

/** Fits a moving value to its type: integers are rounded and wrap like a PLC counter. */
function fitNumeric(type: SimType, x: number): number | bigint {
  if (type === 'Float' || type === 'Double') return x;
  if (type === 'Int64' || type === 'UInt64') return BigInt(Math.round(x));
  const [lo, hi] = INT_RANGE[type]!;
  const span = hi - lo + 1;
  return ((((Math.round(x) - lo) % span) + span) % span) + lo;
}

/**
 * The value source of one moving variable: next() gives the value after one more interval.
 * Sine follows the wall clock so restarts of the simulator continue the same wave.
 */
export function movingValue(v: SimVariable, random: () => number = Math.random): () => number | bigint {
  switch (v.kind) {
    case 'counter': {
      let n = typeof v.value === 'number' ? v.value : 0;
      return () => fitNumeric(v.type, (n += v.step));
    }
    case 'sine': {
      const mid = (v.min + v.max) / 2;
      const amp = (v.max - v.min) / 2;
      return () => fitNumeric(v.type, mid + amp * Math.sin((2 * Math.PI * Date.now()) / v.period));
    }
    case 'random_walk': {
      let x = typeof v.value === 'number' ? v.value : (v.min + v.max) / 2;
      return () => {
        x = Math.min(v.max, Math.max(v.min, x + (random() * 2 - 1) * v.step));
        return fitNumeric(v.type, x);
      };
    }
    case 'static':
      throw new Error('a static variable does not move');
  }
}

/** The first value a variable shows. */
export function initialValue(v: SimVariable): SimValue | SimValue[] {
  if (v.kind === 'static') {
    if (Array.isArray(v.value)) return v.value.map((item) => staticValue(v.type, item));
    return v.value === undefined ? zeroOf(v.type) : staticValue(v.type, v.value);
  }
  return movingValue(v)();
}

function zeroOf(type: SimType): SimValue {
  switch (type) {
    case 'Boolean': return false;
    case 'String': return '';
    case 'DateTime': return new Date(0);
    case 'ByteString': return Buffer.alloc(0);
    case 'Int64': case 'UInt64': return 0n;
    default: return 0;
  }
}
