/**
 * Config schema of the opcua driver: one raw device mapping in, a normalised OpcuaDevice out.
 * A password_file has already been read into `password` by the loader.
 */
import { z } from 'zod';
import { boolean, deviceCommonShape, inheritDeviceDefaults, intIn, nonEmptyString, tagCommonShape } from '../../src/config/fields.js';
import { duration } from '../../src/config/units.js';
import { repr } from '../../src/config/words.js';

/** ns=<index>; or nsu=<uri>; then i=, s=, g= or b= (OPC UA Part 6, 5.3.1.10). */
const NODE_ID_RE = /^(?:(?:ns=\d+|nsu=[^;]+);)?(?:i=\d+|s=.+|g=[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|b=.+)$/s;

const tagSchema = z.strictObject({
  ...tagCommonShape,
  node_id: z.string().refine((s) => NODE_ID_RE.test(s), {
    error: (iss) => `invalid node id ${repr(iss.input)}: use e.g. ns=2;s=Oven.Zone1.Temperature or i=2258`,
    abort: true,
  }),
  mode: z.enum(['subscribe', 'poll']).default('subscribe'),
  /** Default: the tag's poll_interval. */
  sampling_interval: duration().optional(),
  queue_size: intIn(1, 65535).default(10),
});

export const opcuaDeviceSchema = z
  .strictObject({
    ...deviceCommonShape,
    driver: z.literal('opcua'),
    endpoint: z.string().refine((s) => /^opc\.tcp:\/\/[^/\s:]+/.test(s), {
      error: (iss) => `invalid endpoint ${repr(iss.input)}: use opc.tcp://HOST:PORT[/path]`,
      abort: true,
    }),
    security_mode: z.enum(['None', 'Sign', 'SignAndEncrypt']).default('None'),
    security_policy: z.enum(['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']).default('Basic256Sha256'),
    username: nonEmptyString.optional(),
    password: z.string().optional(),
    /** Relative to gateway.data_dir (the loader resolves it). */
    pki_dir: nonEmptyString.default('pki'),
    trust_on_first_use: boolean.default(false),
    tags: z.array(tagSchema).min(1, { error: 'a device needs at least one tag' }),
  })
  .superRefine((device, ctx) => {
    if (device.password !== undefined && device.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'a password needs a username' });
    }
  })
  .transform((device) => ({
    ...device,
    tags: device.tags.map((tag) => {
      const inherited = inheritDeviceDefaults(device, tag);
      return { ...inherited, sampling_interval: tag.sampling_interval ?? inherited.poll_interval };
    }),
  }));

/** An OPC UA device as its driver receives it: validated, defaults applied, pki_dir absolute. */
export type OpcuaDevice = z.output<typeof opcuaDeviceSchema>;
export type OpcuaTag = OpcuaDevice['tags'][number];
