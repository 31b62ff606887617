/**
 * Security against the simulator: the gateway's own certificate, an untrusted server
 * certificate (refused, with the file to move), every mode and policy, user/password, a wrong
 * password, and trust on first use (including a certificate that changes afterwards).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startOpcuaSim, type RunningOpcuaSim } from '../sim.js';
import { createOpcuaDriver, type OpcuaDriver } from '../driver.js';
import { rsaPkcs1Decryption } from '../security.js';
import { capturingLogger, device, noCount, tempDir } from './helpers.js';

const dir = tempDir('security');
const pki = `${dir}/pki`;
let sim: RunningOpcuaSim;
let driver: OpcuaDriver | undefined;

beforeAll(async () => {
  sim = await startOpcuaSim({ pkiDir: `${dir}/server` });
});

afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

afterAll(async () => {
  await sim?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const batch = { name: 'batch', node_id: 'ns=1;s=Oven.BatchId', mode: 'poll' };

async function connected(raw: Record<string, unknown>) {
  const { log, lines } = capturingLogger();
  const d = device({ endpoint: sim.endpoint, pki_dir: pki, tags: [batch], ...raw });
  driver = await createOpcuaDriver(d, { log, countRequest: noCount, dataDir: dir });
  return { d, lines, connect: () => driver!.connect(AbortSignal.timeout(20_000)) };
}

async function readBatch(d: ReturnType<typeof device>) {
  return (await driver!.read({ key: 'p', interval: 1000, tags: d.tags }, AbortSignal.timeout(5000)))[0];
}

describe('opcua security', () => {
  test('an untrusted server certificate is refused with the file to move; moved, the next connect succeeds', async () => {
    const { d, lines, connect } = await connected({ security_mode: 'SignAndEncrypt' });
    const refused = await connect().then(() => undefined, (err: Error) => err);
    expect(refused?.message).toMatch(/server certificate not trusted \(BadCertificateUntrusted/);
    const m = /move (.+\.pem) to (.+) and the next attempt/.exec(refused!.message);
    expect(m).not.toBeNull();
    const [, file, trusted] = m!;
    expect(path.dirname(file)).toBe(path.join(pki, 'rejected'));
    expect(trusted).toBe(path.join(pki, 'trusted', 'certs') + path.sep);
    expect(fs.existsSync(file)).toBe(true);
    expect(lines.some((l) => l.level === 50 && String(l.msg).includes(file))).toBe(true);
    // The gateway's own certificate was created in pki_dir on this first start.
    expect(fs.existsSync(path.join(pki, 'own', 'certs', 'client_certificate.pem'))).toBe(true);
    expect(fs.existsSync(path.join(pki, 'own', 'private', 'private_key.pem'))).toBe(true);

    fs.renameSync(file, path.join(trusted, path.basename(file)));
    await connect();
    expect(await readBatch(d)).toMatchObject({ value: 'B-1042', quality: 'good' });
  });

  test.each([
    ['None', 'Basic256Sha256'],
    ['Sign', 'Basic256Sha256'],
    ['SignAndEncrypt', 'Basic256Sha256'],
    ['SignAndEncrypt', 'Aes128_Sha256_RsaOaep'],
    ['SignAndEncrypt', 'Aes256_Sha256_RsaPss'],
    ['Sign', 'Aes256_Sha256_RsaPss'],
  ])('%s / %s with user and password reads', async (security_mode, security_policy) => {
    const { d, connect } = await connected({ security_mode, security_policy, username: 'operator', password: 'secret' });
    await connect();
    expect(await readBatch(d)).toMatchObject({ value: 'B-1042', quality: 'good' });
  });

  test('security_policy None, the name OPC UA tools show, is accepted with mode None and connects', async () => {
    const { d, connect } = await connected({ security_policy: 'None' });
    await connect();
    expect(await readBatch(d)).toMatchObject({ value: 'B-1042', quality: 'good' });
    expect(() => device({ endpoint: sim.endpoint, security_mode: 'Sign', security_policy: 'None', tags: [batch] }))
      .toThrow(/security_policy None means no security, which security_mode Sign cannot have: name a policy \(Basic256Sha256, .*\) or auto, or set security_mode: None/);
  });

  test('a wrong password is refused with a message that says so', async () => {
    const { connect } = await connected({ security_mode: 'SignAndEncrypt', username: 'operator', password: 'wrong' });
    await expect(connect()).rejects.toThrow(/refused user "operator" \(Bad\w+\): check username and password/);
    expect(driver!.state).toBe('idle');
  });

  test.each([
    ['Sign', 'Basic256'],
    ['SignAndEncrypt', 'Basic256'],
  ])('deprecated %s / %s, named explicitly, reads; every start warns that it is deprecated', async (security_mode, security_policy) => {
    const { d, lines, connect } = await connected({ security_mode, security_policy, username: 'operator', password: 'secret' });
    const warning = lines.filter((l) => l.level === 40 && String(l.msg).includes('deprecated'));
    expect(warning).toEqual([expect.objectContaining({ msg: expect.stringContaining(`security policy ${security_policy} is deprecated`) })]);
    await connect();
    expect(await readBatch(d)).toMatchObject({ value: 'B-1042', quality: 'good' });
    expect(sim.channels()).toContainEqual({ mode: security_mode, policy: security_policy });
  });

  test('Basic128Rsa15 where Node refuses RSA PKCS#1 v1.5 decryption fails at connect and says how to allow it', async () => {
    const { d, lines, connect } = await connected({ security_mode: 'SignAndEncrypt', security_policy: 'Basic128Rsa15' });
    expect(lines.some((l) => l.level === 40 && String(l.msg).includes('security policy Basic128Rsa15 is deprecated'))).toBe(true);
    if (rsaPkcs1Decryption()) {
      // Only under node --security-revert=CVE-2023-46809 (or a Node without that fix).
      await connect();
      expect(await readBatch(d)).toMatchObject({ quality: 'good' });
    } else {
      await expect(connect()).rejects.toThrow(
        /Basic128Rsa15 needs RSA PKCS#1 v1\.5 decryption, which Node v[\d.]+ refuses since the fix for CVE-2023-46809: run node with --security-revert=CVE-2023-46809 \(see the OPC UA README\), or have the server offer a current policy/);
      expect(driver!.state).toBe('idle');
    }
  });

  test('trust on first use trusts and pins the first certificate, and refuses a different one later', async () => {
    const tofuPki = `${dir}/pki-tofu`;
    const first = await connected({ security_mode: 'Sign', trust_on_first_use: true, pki_dir: tofuPki });
    await first.connect();
    expect(await readBatch(first.d)).toMatchObject({ quality: 'good' });
    const pins = JSON.parse(fs.readFileSync(path.join(tofuPki, 'tofu-pins.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(pins)).toEqual([sim.endpoint]);
    expect(fs.readdirSync(path.join(tofuPki, 'trusted', 'certs')).some((f) => f.includes(pins[sim.endpoint]))).toBe(true);
    expect(first.lines.some((l) => String(l.msg).includes('trusted the server certificate on first use'))).toBe(true);
    await driver!.close();

    // Another server (another certificate) now answers on the same endpoint.
    const port = sim.port;
    await sim.close();
    sim = await startOpcuaSim({ port, pkiDir: `${dir}/impostor` });
    const second = await connected({ security_mode: 'Sign', trust_on_first_use: true, pki_dir: tofuPki });
    await expect(second.connect()).rejects.toThrow(/not trusted .*differs from the certificate first trusted for this endpoint/);
  });
});
