/**
 * Config schema of the opcua driver: one raw device mapping in, a normalised OpcuaDevice out.
 * A password_file has already been read into `password` by the loader.
 */
import { z } from 'zod';
import { boolean, deviceCommonShape, inheritDeviceDefaults, intIn, nonEmptyString, tagCommonShape } from '../../src/config/fields.js';
import { duration } from '../../src/config/units.js';
import { repr } from '../../src/config/words.js';

/**
 * ns=<index>; or nsu=<uri>; then i=, s=, g= or b= (OPC UA Part 6, 5.3.1.10). [\s\S], not the s
 * flag: the source is also the JSON Schema pattern, which takes no flags.
 */
const NODE_ID_RE = /^(?:(?:ns=\d+|nsu=[^;]+);)?(?:i=\d+|s=[\s\S]+|g=[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|b=[\s\S]+)$/;
const ENDPOINT_RE = /^opc\.tcp:\/\/[^/\s:]+/;

export const SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
/** Current policies, then the ones the OPC Foundation deprecated (SHA-1): those only when named, with a warning. */
const CURRENT_POLICIES = ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;
export const DEPRECATED_POLICIES = ['Basic256', 'Basic128Rsa15'] as const;
const SECURITY_POLICIES = ['None', ...CURRENT_POLICIES, ...DEPRECATED_POLICIES] as const;
export type SecurityModeName = (typeof SECURITY_MODES)[number];
export type SecurityPolicyName = (typeof SECURITY_POLICIES)[number];

const tagSchema = z.strictObject({
  ...tagCommonShape,
  node_id: z.string().refine((s) => NODE_ID_RE.test(s), {
    error: (iss) => `invalid node id ${repr(iss.input)}: use e.g. ns=2;s=Oven.Zone1.Temperature or i=2258`,
    abort: true,
  }).meta({ pattern: NODE_ID_RE.source }),
  mode: z.enum(['subscribe', 'poll']).default('subscribe'),
  /** Default: the tag's poll_interval. */
  sampling_interval: duration().optional(),
  queue_size: intIn(1, 65535).default(10),
});

export const opcuaDeviceSchema = z
  .strictObject({
    ...deviceCommonShape,
    driver: z.literal('opcua'),
    endpoint: z.string().refine((s) => ENDPOINT_RE.test(s), {
      error: (iss) => `invalid endpoint ${repr(iss.input)}: use opc.tcp://HOST:PORT[/path]`,
      abort: true,
    }).meta({ pattern: ENDPOINT_RE.source }),
    /** auto: the strongest the server offers (security.ts). */
    security_mode: z.enum([...SECURITY_MODES, 'auto']).default('None'),
    /** Default: auto with security_mode auto, else Basic256Sha256. Ignored with security_mode None. */
    security_policy: z.enum([...SECURITY_POLICIES, 'auto']).optional(),
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
    if (device.security_policy === 'None' && (device.security_mode === 'Sign' || device.security_mode === 'SignAndEncrypt')) {
      ctx.addIssue({
        code: 'custom', path: ['security_policy'],
        message: `security_policy None means no security, which security_mode ${device.security_mode} cannot have: `
          + `name a policy (${CURRENT_POLICIES.join(', ')}) or auto, or set security_mode: None`,
      });
    }
  })
  .transform((device) => ({
    ...device,
    security_policy: device.security_policy ?? (device.security_mode === 'auto' ? 'auto' : 'Basic256Sha256'),
    tags: device.tags.map((tag) => {
      const inherited = inheritDeviceDefaults(device, tag);
      return { ...inherited, sampling_interval: tag.sampling_interval ?? inherited.poll_interval };
    }),
  }));

/** An OPC UA device as its driver receives it: validated, defaults applied, pki_dir absolute. */
export type OpcuaDevice = z.output<typeof opcuaDeviceSchema>;
export type OpcuaTag = OpcuaDevice['tags'][number];
