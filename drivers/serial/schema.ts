/**
 * Config schema of the serial driver: an instrument that sends lines of text. Each line is
 * matched against `pattern`; each tag takes one named group of it.
 */
import { z } from 'zod';
import {
  checkScaleOnlyNumeric, deviceCommonShape, inheritDeviceDefaults, name, nonEmptyString, serialLineShape, tagCommonShape,
} from '../../src/config/fields.js';

const tagSchema = z
  .strictObject({
    ...tagCommonShape,
    /** Default: the tag's name. */
    group: name.optional(),
    type: z.enum(['string', 'float64', 'int64', 'bool']),
  })
  .superRefine((tag, ctx) => {
    if (tag.writable) ctx.addIssue({ code: 'custom', path: ['writable'], message: 'serial tags cannot be written' });
    checkScaleOnlyNumeric(tag, ctx);
  });

/** The named groups of a regular expression, or the reason it does not compile. */
function namedGroups(pattern: string): { groups: string[] } | { error: string } {
  try {
    new RegExp(pattern);
    // The empty alternative always matches, and exec() lists every named group, matched or not.
    const match = new RegExp(`(?:${pattern})|`).exec('');
    return { groups: Object.keys(match?.groups ?? {}) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export const serialDeviceSchema = z
  .strictObject({
    ...deviceCommonShape,
    ...serialLineShape,
    driver: z.literal('serial'),
    delimiter: nonEmptyString.default('\n'),
    pattern: z.string(),
    request: nonEmptyString.optional(),
    tags: z.array(tagSchema).min(1, { error: 'a device needs at least one tag' }),
  })
  .superRefine((device, ctx) => {
    const compiled = namedGroups(device.pattern);
    if ('error' in compiled) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: compiled.error });
      return;
    }
    const known = compiled.groups.length > 0 ? compiled.groups.join(', ') : 'none; write (?<name>...)';
    device.tags.forEach((tag, i) => {
      const group = tag.group ?? tag.name;
      if (!compiled.groups.includes(group)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tags', i, tag.group === undefined ? 'name' : 'group'],
          message: `pattern has no named group "${group}" (its groups: ${known})`,
        });
      }
    });
  })
  .transform((device) => ({
    ...device,
    tags: device.tags.map((tag) => ({ ...inheritDeviceDefaults(device, tag), group: tag.group ?? tag.name })),
  }));

/** A serial instrument as its driver receives it: validated, defaults applied, frozen. */
export type SerialDevice = z.output<typeof serialDeviceSchema>;
export type SerialTag = SerialDevice['tags'][number];
