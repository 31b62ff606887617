/**
 * Config schema of the serial driver: an instrument that sends lines of text. Each line is
 * matched against `pattern`; each tag takes one named group of it.
 */
import { z } from 'zod';
import {
  checkScaleOnlyNumeric, deviceCommonShape, inheritDeviceDefaults, issuesIn, name, nonEmptyString, serialLineShape, tagCommonShape,
} from '../../src/config/fields.js';
import { duration } from '../../src/config/units.js';

const tagSchema = z
  .strictObject({
    ...tagCommonShape,
    /** Default: the tag's name. */
    group: name.optional(),
    type: z.enum(['string', 'float64', 'int64', 'bool']),
  })
  .superRefine((tag, ctx) => {
    if (tag.writable) ctx.addIssue({ code: 'custom', path: ['writable'], message: 'serial tags cannot be written' });
    checkScaleOnlyNumeric(tag, issuesIn(ctx));
  });

/** What a JavaScript regular expression accepts as the name of a group (ASCII). */
const GROUP_NAME = /^[A-Za-z_$][\w$]*$/;

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
    /** Listen-only: the tags go bad when no line has matched for this long (absent: never). */
    stale_after: duration().optional(),
    tags: z.array(tagSchema).min(1, { error: 'a device needs at least one tag' }),
  })
  .superRefine((device, ctx) => {
    if (device.stale_after !== undefined && device.request !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['stale_after'], message: 'stale_after applies to a listen-only device; with request, timeout bounds every answer' });
    }
    const compiled = namedGroups(device.pattern);
    if ('error' in compiled) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: compiled.error });
      return;
    }
    const known = compiled.groups.length > 0 ? compiled.groups.join(', ') : 'none; write (?<name>...)';
    device.tags.forEach((tag, i) => {
      const group = tag.group ?? tag.name;
      if (!compiled.groups.includes(group)) {
        // A tag named as SCADA systems do (`Zone1.Temp`) can never be a group name itself.
        const hint = tag.group === undefined && !GROUP_NAME.test(group)
          ? '; a group name is letters, digits and _: set group: to the group this tag reads'
          : '';
        ctx.addIssue({
          code: 'custom',
          path: ['tags', i, tag.group === undefined ? 'name' : 'group'],
          message: `pattern has no named group "${group}" (its groups: ${known})${hint}`,
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
