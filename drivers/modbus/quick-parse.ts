/**
 * The quick parse of a Modbus device (DriverModule.parseQuickly): its tags checked by hand
 * (src/config/quick-fields.ts) and by the schema's own rules, its other keys by its zod schema
 * with one tag. Tens of thousands of tags load in a fraction of zod's time and garbage; a device
 * with anything unusual (a number written as text, an unknown key, a problem) is declined and
 * its schema validates it whole, wording each problem.
 */
import type { ZodType } from 'zod';
import { quickEnum, quickInt, quickObject, quickTagCommon, type QuickKey } from '../../src/config/quick-fields.js';
import {
  AREAS, BYTE_ORDERS, TYPES, checkFitsOneRead, checkTag, fillTagDefaults, type ModbusDevice, type ModbusTag, type RawTag,
} from './schema.js';

/** The schema's tagShape, key for key and in its order. */
export const QUICK_TAG = {
  ...quickTagCommon,
  area: { check: quickEnum(AREAS) },
  address: { check: quickInt(0, 65535) },
  type: { check: quickEnum(TYPES) },
  bit: { check: quickInt(0, 15), optional: true },
  length: { check: quickInt(1, 125), optional: true },
  byte_order: { check: quickEnum(BYTE_ORDERS), optional: true },
} as const satisfies Record<string, QuickKey>;

/** What `schema` gives for `raw`, or undefined to let it validate `raw` itself. */
export function parseModbusQuickly<D extends ModbusDevice>(schema: ZodType<D>, raw: Readonly<Record<string, unknown>>): D | undefined {
  const rawTags = raw.tags;
  if (!Array.isArray(rawTags) || rawTags.length === 0) return undefined;
  // The device's own keys, defaults and rules, at the cost of one tag.
  const head = schema.safeParse({ ...raw, tags: rawTags.slice(0, 1) });
  if (!head.success) return undefined;
  let valid = true;
  const decline = () => { valid = false; };
  const tags: ModbusTag[] = [];
  for (const rawTag of rawTags) {
    const tag = quickObject(rawTag, QUICK_TAG) as RawTag | undefined;
    if (tag === undefined) return undefined;
    checkTag(tag, decline);
    if (!valid) return undefined;
    // quickObject's object is new: filled in place, one object per tag.
    tags.push(fillTagDefaults(head.data, tag));
  }
  const device = { ...head.data, tags };
  checkFitsOneRead(device, decline);
  return valid ? device : undefined;
}
