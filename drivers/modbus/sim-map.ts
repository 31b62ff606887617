/**
 * The simulator's register map: which values a simulated PLC serves, and how they move.
 *
 * Entries look like device tags (area, address, type, bit, length, byte_order), so a device's
 * tag list can be pasted in, plus exactly one source: `value` (static), `counter`, `sine` or
 * `random_walk`. Periods are milliseconds.
 */
import fs from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { ModbusTag } from './schema.js';
import { encodeRegisters, tagWidth } from './codec.js';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const positive = finite.refine((n) => n > 0, 'must be greater than 0');

const entrySchema = z
  .strictObject({
    name: z.string().optional(),
    area: z.enum(['holding', 'input', 'coil', 'discrete']),
    address: z.int().min(0).max(65535),
    type: z.enum(['bool', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'string']).default('uint16'),
    bit: z.int().min(0).max(15).optional(),
    length: z.int().min(1).max(125).optional(),
    byte_order: z.enum(['ABCD', 'BADC', 'CDAB', 'DCBA']).default('ABCD'),
    value: z.union([z.boolean(), finite, z.string()]).optional(),
    counter: z.strictObject({ step: finite.default(1), every: positive.default(1000), start: finite.default(0) }).optional(),
    sine: z.strictObject({ amplitude: finite, period: positive, offset: finite.default(0) }).optional(),
    random_walk: z.strictObject({ step: positive, min: finite, max: finite, start: finite.optional() }).optional(),
  })
  .refine((e) => [e.value, e.counter, e.sine, e.random_walk].filter((s) => s !== undefined).length === 1, {
    message: 'give exactly one of value, counter, sine, random_walk',
  })
  .refine((e) => e.type !== 'string' || e.length !== undefined, { message: 'a string needs length (registers)', path: ['length'] })
  .refine((e) => e.type !== 'string' || typeof e.value === 'string', { message: 'a string takes a static value', path: ['value'] })
  .refine((e) => !e.random_walk || e.random_walk.min <= e.random_walk.max, { message: 'min must not exceed max', path: ['random_walk'] });

export const simMapSchema = z.strictObject({ tags: z.array(entrySchema) });

export type SimEntry = z.input<typeof entrySchema>;
export type SimMap = z.input<typeof simMapSchema>;

/** A validated entry, ready to serve. */
export interface SimPoint {
  /** The entry as a tag, so the codec can encode it (scale 1, offset 0). */
  readonly tag: ModbusTag;
  readonly width: number;
  /** The value (number or, for static entries, whatever `value` says) at `elapsed` ms. */
  readonly at: (elapsed: number) => boolean | number | string;
}

function source(e: z.output<typeof entrySchema>): SimPoint['at'] {
  if (e.counter) {
    const { step, every, start } = e.counter;
    return (elapsed) => start + step * Math.floor(elapsed / every);
  }
  if (e.sine) {
    const { amplitude, period, offset } = e.sine;
    return (elapsed) => offset + amplitude * Math.sin((2 * Math.PI * elapsed) / period);
  }
  if (e.random_walk) {
    const { step, min, max } = e.random_walk;
    let current = e.random_walk.start ?? (min + max) / 2;
    return () => {
      current = Math.min(max, Math.max(min, current + (Math.random() * 2 - 1) * step));
      return current;
    };
  }
  const value = e.value!;
  return () => value;
}

/** Parse a map given as an object, or as a YAML/JSON file path; throws with every problem listed. */
export function loadSimMap(map: SimMap | string): SimPoint[] {
  const raw: unknown = typeof map === 'string' ? parse(fs.readFileSync(map, 'utf8')) : map;
  const parsed = simMapSchema.safeParse(raw);
  if (!parsed.success) {
    const where = typeof map === 'string' ? `${map}: ` : '';
    throw new Error(`invalid simulator map: ${parsed.error.issues.map((i) => `${where}${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data.tags.map((e, i) => {
    const bitArea = e.area === 'coil' || e.area === 'discrete';
    const tag: ModbusTag = {
      name: e.name ?? `${e.area}_${e.address}`,
      area: e.area,
      address: e.address,
      type: bitArea ? 'bool' : e.type,
      bit: e.bit,
      length: e.length,
      byte_order: e.byte_order,
      poll_interval: 1000,
      scale: 1,
      offset: 0,
      writable: true,
    };
    const point: SimPoint = { tag, width: tagWidth(tag), at: source(e) };
    if (e.value !== undefined && !bitArea) {
      try {
        encodeRegisters(tag, e.value);
      } catch (err) {
        throw new Error(`invalid simulator map: tags.${i}.value: ${(err as Error).message}`);
      }
    }
    return point;
  });
}

/**
 * The built-in map: the PLC `floorgate demo` polls (device press-1 of config/demo.yaml).
 * Everything moves except the recipe name and the setpoint, which waits to be written.
 */
export const defaultSimMap: SimMap = {
  tags: [
    { name: 'temperature', area: 'holding', address: 0, type: 'float32', sine: { amplitude: 4, period: 60_000, offset: 21.5 } },
    { name: 'counter', area: 'holding', address: 2, type: 'uint32', counter: { step: 1, every: 1000 } },
    // Raw tenths of a bar: the demo config scales it by 0.1.
    { name: 'pressure', area: 'holding', address: 4, type: 'int16', random_walk: { step: 15, min: 850, max: 1150, start: 1000 } },
    { name: 'alarm', area: 'holding', address: 5, type: 'bool', bit: 3, counter: { step: 1, every: 15_000 } },
    { name: 'recipe', area: 'holding', address: 10, type: 'string', length: 8, value: 'PRESS-FORM-A17' },
    { name: 'energy', area: 'holding', address: 20, type: 'float64', counter: { step: 0.125, every: 1000, start: 1000 } },
    { name: 'position', area: 'holding', address: 24, type: 'int32', byte_order: 'CDAB', sine: { amplitude: 250_000, period: 20_000 } },
    { name: 'setpoint', area: 'holding', address: 26, type: 'float32', value: 22.5 },
    { name: 'running', area: 'coil', address: 0, counter: { step: 1, every: 10_000, start: 1 } },
    { name: 'door_open', area: 'discrete', address: 0, counter: { step: 1, every: 7_000 } },
    { name: 'speed', area: 'input', address: 0, type: 'uint16', sine: { amplitude: 300, period: 30_000, offset: 1500 } },
    { name: 'flow', area: 'input', address: 2, type: 'float32', sine: { amplitude: 2.5, period: 10_000, offset: 12 } },
  ],
};
