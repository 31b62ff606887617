/**
 * TLS to the broker, with the real daemon against real mosquitto TLS listeners and a self-made
 * CA: the server certificate is verified by default (a certificate the system does not trust,
 * one for another host, an expired one are each refused, saying why); a broker that requires a
 * client certificate gets one when configured and refuses floorgate without it; verification is
 * off only with an explicit `tls.insecure: true`, which warns at every start.
 */
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, type CliProcess } from '../helpers/gateway.js';
import { hasOpenssl, makePki, type Pki } from './certs.js';
import { logLines, writeConfig } from './config.js';

let dir: string;
let pki: Pki;
const brokers: Broker[] = [];

beforeAll(() => {
  dir = tempDir('floorgate-tls-');
  if (hasOpenssl) pki = makePki(dir);
});
afterEach(async () => {
  await stopAll();
  for (const b of brokers.splice(0)) await b.kill();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function tlsBroker(server: keyof Pick<Pki, 'server' | 'wrongHost' | 'expired'>, requireCertificate = false): Promise<Broker> {
  const b = await startBroker({ tls: { ...pki[server], ca: pki.ca, requireCertificate } });
  brokers.push(b);
  return b;
}

let runs = 0;

/** Starts the daemon with these mqtt lines and resolves with the run once it connected or gave up once. */
async function run(broker: Broker, mqtt: string[]): Promise<{ proc: CliProcess; connected: boolean; msg: string }> {
  const config = writeConfig(dir, { url: broker.url, mqtt, dataDir: `${dir}/data-${runs}` }, `run-${runs++}.yaml`);
  const proc = runCli(['run', '-c', config]);
  const line = await proc.waitFor((_l, j) => /^(connected to|cannot connect to)/.test(String(j?.msg)), 15_000);
  const msg = String(JSON.parse(line).msg);
  return { proc, connected: msg.startsWith('connected to'), msg };
}

const insecureWarnings = (p: CliProcess) => logLines(p).filter((l) => l.level === 40 && /tls\.insecure/.test(l.msg));

describe.skipIf(!hasOpenssl)('TLS to the broker', () => {
  it('a certificate signed by the configured CA, for this host: connects, no warning', async () => {
    const broker = await tlsBroker('server');
    const r = await run(broker, [`tls: { ca: ${pki.ca} }`]);
    expect(r.msg).toBe(`connected to ${broker.url}`);
    expect(insecureWarnings(r.proc)).toEqual([]);
    expect(await r.proc.stop()).toBe(0);
  });

  it('verification is the default: without the CA (no tls section at all) the self-made certificate is refused', async () => {
    const broker = await tlsBroker('server');
    const r = await run(broker, []);
    expect(r.connected).toBe(false);
    expect(r.msg).toMatch(/self-signed certificate in certificate chain \(set mqtt\.tls\.ca to the CA that signed the broker's certificate\)/);
  });

  it('a certificate for another host is refused', async () => {
    const broker = await tlsBroker('wrongHost');
    const r = await run(broker, [`tls: { ca: ${pki.ca} }`]);
    expect(r.connected).toBe(false);
    expect(r.msg).toMatch(/does not match|altnames/i);
  });

  it('an expired certificate is refused', async () => {
    const broker = await tlsBroker('expired');
    const r = await run(broker, [`tls: { ca: ${pki.ca} }`]);
    expect(r.connected).toBe(false);
    expect(r.msg).toMatch(/expired/i);
  });

  it('a broker that requires a client certificate: refused without one, connects with it', async () => {
    const broker = await tlsBroker('server', true);
    const without = await run(broker, [`tls: { ca: ${pki.ca} }`]);
    expect(without.connected).toBe(false);
    expect(without.msg).toMatch(/the broker requires a client certificate: set mqtt\.tls\.cert and mqtt\.tls\.key/);
    await without.proc.stop('SIGKILL');
    const withCert = await run(broker, [`tls: { ca: ${pki.ca}, cert: ${pki.client.cert}, key: ${pki.client.key} }`]);
    expect(withCert.msg).toBe(`connected to ${broker.url}`);
    expect(await withCert.proc.stop()).toBe(0);
  });

  it('tls.insecure: true connects to any certificate and warns at every start', async () => {
    const broker = await tlsBroker('expired');
    for (let start = 0; start < 2; start++) {
      const r = await run(broker, ['tls: { insecure: true }']);
      expect(r.connected).toBe(true);
      expect(insecureWarnings(r.proc)).toHaveLength(1);
      expect(await r.proc.stop()).toBe(0);
    }
  });
});
