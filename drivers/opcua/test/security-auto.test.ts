/**
 * `security_mode: auto` / `security_policy: auto` against simulators offering every endpoint,
 * fewer endpoints, only None, and only a deprecated policy. What was chosen is judged by the
 * secure channel the simulator itself holds open, not by what the driver says.
 */
import fs from 'node:fs';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { startOpcuaSim, type OpcuaSimOptions, type RunningOpcuaSim } from '../sim.js';
import { createOpcuaDriver, type OpcuaDriver } from '../driver.js';
import { capturingLogger, device, noCount, tempDir } from './helpers.js';

const dir = tempDir('security-auto');
let sim: RunningOpcuaSim | undefined;
let driver: OpcuaDriver | undefined;

afterEach(async () => {
  await driver?.close();
  driver = undefined;
  await sim?.close();
  sim = undefined;
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const batch = { name: 'batch', node_id: 'ns=1;s=Oven.BatchId', mode: 'poll' };

/** A simulator with `offers`, and a driver with `raw` settings that trusts it on first use (pinned per endpoint, so per port). */
async function against(offers: Pick<OpcuaSimOptions, 'securityModes' | 'securityPolicies'>, raw: Record<string, unknown>) {
  sim = await startOpcuaSim({ pkiDir: `${dir}/server`, ...offers });
  const { log, lines } = capturingLogger();
  const d = device({
    endpoint: sim.endpoint, pki_dir: `${dir}/pki`, trust_on_first_use: true, username: 'operator', password: 'secret',
    tags: [batch], ...raw,
  });
  driver = await createOpcuaDriver(d, { log, countRequest: noCount, dataDir: dir });
  return { d, lines, connect: () => driver!.connect(AbortSignal.timeout(20_000)) };
}

describe('opcua security auto', () => {
  test.each([
    ['every endpoint', { security_mode: 'auto' }, 'SignAndEncrypt', 'Aes256_Sha256_RsaPss', {}],
    ['every endpoint', { security_mode: 'auto', security_policy: 'Basic256Sha256' }, 'SignAndEncrypt', 'Basic256Sha256', {}],
    ['every endpoint', { security_mode: 'Sign', security_policy: 'auto' }, 'Sign', 'Aes256_Sha256_RsaPss', {}],
    ['None and Sign with two policies', { security_mode: 'auto', security_policy: 'auto' }, 'Sign', 'Basic256Sha256',
      { securityModes: ['None', 'Sign'], securityPolicies: ['Basic256Sha256', 'Aes128_Sha256_RsaOaep'] }],
    ['only None', { security_mode: 'auto' }, 'None', 'None', { securityModes: ['None'] }],
  ] as const)('a server offering %s, config %j: picks %s / %s, logged at info, and reads', async (_what, raw, mode, policy, offers) => {
    const { d, lines, connect } = await against({ ...offers }, raw);
    await connect();
    const [reading] = await driver!.read({ key: 'p', interval: 1000, tags: d.tags }, AbortSignal.timeout(5000));
    expect(reading).toMatchObject({ value: 'B-1042', quality: 'good' });
    expect(sim!.channels()).toEqual([{ mode, policy }]);
    const chosen = lines.filter((l) => l.msg === 'opcua security chosen');
    expect(chosen).toEqual([expect.objectContaining({ level: 30, security_mode: mode, security_policy: policy })]);
  });

  test('auto never picks a deprecated policy: a server offering only Basic256 is refused with what to write', async () => {
    const { connect } = await against({ securityModes: ['Sign'], securityPolicies: ['Basic256'] }, { security_mode: 'auto' });
    await expect(connect()).rejects.toThrow(
      /the server offers only deprecated security \(Sign\/Basic256\): name it \(security_mode: Sign, security_policy: Basic256\) to use it anyway/);
  });

  test('a mode the server does not offer, with policy auto, is refused naming what it offers', async () => {
    const { connect } = await against({ securityModes: ['None', 'Sign'], securityPolicies: ['Basic256Sha256'] },
      { security_mode: 'SignAndEncrypt', security_policy: 'auto' });
    await expect(connect()).rejects.toThrow(/the server offers no SignAndEncrypt endpoint \(it offers None\/None, Sign\/Basic256Sha256\)/);
  });
});
