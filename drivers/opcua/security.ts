/**
 * OPC UA security in the names the config (and every OPC UA tool) uses: the node-opcua values
 * behind them, what this Node can run, and the endpoint a device's settings pick among those a
 * server offers — exactly the one configured, or for `auto` the strongest.
 */
import crypto from 'node:crypto';
import { MessageSecurityMode, SecurityPolicy, type EndpointDescription } from 'node-opcua-client';
import { DEPRECATED_POLICIES, type OpcuaDevice, type SecurityModeName, type SecurityPolicyName } from './schema.js';

export const MODES: Record<SecurityModeName, MessageSecurityMode> = {
  None: MessageSecurityMode.None,
  Sign: MessageSecurityMode.Sign,
  SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
};

export const POLICIES: Record<SecurityPolicyName, SecurityPolicy> = {
  None: SecurityPolicy.None,
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
  Aes256_Sha256_RsaPss: SecurityPolicy.Aes256_Sha256_RsaPss,
  Basic256: SecurityPolicy.Basic256,
  Basic128Rsa15: SecurityPolicy.Basic128Rsa15,
};

/** Strongest first: what auto prefers (the deprecated policies only ever when named). */
const MODE_RANK: readonly SecurityModeName[] = ['SignAndEncrypt', 'Sign', 'None'];
const POLICY_RANK: readonly SecurityPolicyName[] = [
  'Aes256_Sha256_RsaPss', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Basic256', 'Basic128Rsa15', 'None',
];

/** A mode and policy as they are written in the config. */
export interface Security {
  readonly mode: SecurityModeName;
  readonly policy: SecurityPolicyName;
}

export function securityOf(e: Pick<EndpointDescription, 'securityMode' | 'securityPolicyUri'>): Security | undefined {
  const mode = MODE_RANK.find((m) => MODES[m] === e.securityMode);
  const policy = (Object.keys(POLICIES) as SecurityPolicyName[]).find((p) => POLICIES[p] === e.securityPolicyUri);
  return mode && policy ? { mode, policy } : undefined;
}

export function isDeprecated(policy: string): boolean {
  return (DEPRECATED_POLICIES as readonly string[]).includes(policy);
}

let pkcs1Decryption: boolean | undefined;

/**
 * Whether this Node decrypts RSA PKCS#1 v1.5 (Basic128Rsa15's key exchange). Node 20 refuses it
 * since the fix for CVE-2023-46809 (the Marvin attack) unless started with
 * --security-revert=CVE-2023-46809; asked of Node itself, once, rather than guessed from flags.
 */
export function rsaPkcs1Decryption(): boolean {
  if (pkcs1Decryption === undefined) {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 512 });
    const padding = crypto.constants.RSA_PKCS1_PADDING;
    try {
      crypto.privateDecrypt({ key: privateKey, padding }, crypto.publicEncrypt({ key: publicKey, padding }, Buffer.from('x')));
      pkcs1Decryption = true;
    } catch {
      pkcs1Decryption = false;
    }
  }
  return pkcs1Decryption;
}

/** Why this Node cannot run `policy`, or undefined when it can. */
export function unusable(policy: SecurityPolicyName): string | undefined {
  if (policy !== 'Basic128Rsa15' || rsaPkcs1Decryption()) return undefined;
  return `security policy Basic128Rsa15 needs RSA PKCS#1 v1.5 decryption, which Node ${process.version} refuses since the fix for `
    + 'CVE-2023-46809: run node with --security-revert=CVE-2023-46809 (see the OPC UA README), or have the server offer a current policy';
}

/**
 * The endpoint to connect to among those the server offers: the configured mode and policy, or
 * for `auto` the strongest offered (mode first, then policy). `security_policy: auto` never picks
 * a deprecated policy, nor None in its stead: between old cryptography and none the operator
 * chooses. Throws, naming what the server offers, when nothing fits.
 */
export function chooseEndpoint(endpoints: readonly EndpointDescription[], device: Pick<OpcuaDevice, 'security_mode' | 'security_policy'>): {
  endpoint: EndpointDescription;
  security: Security;
} {
  const offered = endpoints.flatMap((endpoint) => {
    const security = securityOf(endpoint);
    return security ? [{ endpoint, security }] : [];
  });
  const { security_mode: mode, security_policy: policy } = device;
  const rank = (s: Security) => MODE_RANK.indexOf(s.mode) * POLICY_RANK.length + POLICY_RANK.indexOf(s.policy);
  const fits = offered
    .filter(({ security: s }) => (mode === 'auto' || s.mode === mode) && (policy === 'auto' || s.mode === 'None' || s.policy === policy))
    .sort((a, b) => rank(a.security) - rank(b.security));
  const best = policy === 'auto' ? fits.find(({ security: s }) => !isDeprecated(s.policy)) : fits[0];
  const oldOnly = fits.filter(({ security: s }) => isDeprecated(s.policy));
  if (policy === 'auto' && oldOnly.length > 0 && (!best || best.security.mode === 'None')) {
    const { mode: m, policy: p } = oldOnly[0].security;
    const orNone = best ? ' or set security_mode: None for no security' : '';
    throw new Error(`the server offers only deprecated security (${oldOnly.map(({ security: s }) => `${s.mode}/${s.policy}`).join(', ')}): `
      + `name it (security_mode: ${m}, security_policy: ${p}) to use it anyway${orNone}`);
  }
  if (best) return best;
  const wanted = [mode, policy].filter((w) => w !== 'auto').join('/') || 'usable';
  const names = [...new Set(offered.map(({ security: s }) => `${s.mode}/${s.policy}`))];
  throw new Error(`the server offers no ${wanted} endpoint (it offers ${names.join(', ')})`);
}
