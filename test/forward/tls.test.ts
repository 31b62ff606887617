/** mqtts: the broker's certificate is verified against mqtt.tls.ca unless tls.insecure says not to. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../helpers/broker.js';
import { needTool, onPath } from '../helpers/tools.js';
import { subscribe } from '../helpers/subscriber.js';
import { testConfig } from './config.js';
import { appendBatches, captureLog, complete, openStore, Rig, until } from './setup.js';

const rig = new Rig();
afterEach(async () => { await rig.close(); });

const hasOpenssl = needTool('openssl', onPath('openssl'), 'TLS to the broker');

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it. */
function makeCerts(dir: string) {
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=floorgate test CA');
  ssl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.pem'), '-days', '1', '-extfile', f('ext.cnf'));
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

describe.skipIf(!hasOpenssl)('TLS', () => {
  const certDir = new Rig();
  let certs: ReturnType<typeof makeCerts>;
  beforeAll(() => { certs = makeCerts(certDir.tempDir()); });
  afterAll(() => certDir.close());

  it('verifies the broker against the configured CA and delivers', async () => {
    const broker = rig.add(await startBroker({ tls: { cert: certs.cert, key: certs.key } }), (b) => b.stop());
    expect(broker.url).toMatch(/^mqtts:/);
    const capture = captureLog();
    const config = testConfig({ url: broker.url, mqtt: { tls: { ca: certs.ca, insecure: false } } });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
    const sub = rig.add(await subscribe(broker.url, { topic: 'fg/#', ca: fs.readFileSync(certs.ca) }), (s) => s.close());
    const fwd = rig.forwarder(config, store, capture.log);
    fwd.start();
    appendBatches(store, 5);
    await sub.waitFor((m) => complete(m, 5), 10_000);
    expect(capture.lines().some((l) => l.level === 40)).toBe(false);
  });

  it('refuses a broker whose certificate it cannot verify, and says why', async () => {
    const broker = rig.add(await startBroker({ tls: { cert: certs.cert, key: certs.key } }), (b) => b.stop());
    const capture = captureLog();
    // No CA: the system trust store does not know our test CA.
    const config = testConfig({ url: broker.url, mqtt: { tls: { insecure: false } } });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
    const fwd = rig.forwarder(config, store, capture.log);
    fwd.start();
    await until(() => fwd.state().lastError !== null, 5_000, 'a failed attempt');
    expect(fwd.state().connected).toBe(false);
    expect(fwd.state().lastError).toMatch(/certificate/i);
    expect(capture.lines().filter((l) => l.msg.startsWith('cannot connect'))).toHaveLength(1);
  });

  it('tls.insecure connects without verification and warns at start', async () => {
    const broker = rig.add(await startBroker({ tls: { cert: certs.cert, key: certs.key } }), (b) => b.stop());
    const capture = captureLog();
    const config = testConfig({ url: broker.url, mqtt: { tls: { insecure: true } } });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, capture.log), (s) => s.close());
    const fwd = rig.forwarder(config, store, capture.log);
    fwd.start();
    await until(() => fwd.state().connected, 5_000, 'connected');
    expect(capture.lines().filter((l) => l.level === 40 && l.msg.includes('insecure'))).toHaveLength(1);
  });
});
