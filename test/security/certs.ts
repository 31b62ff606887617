/**
 * A throwaway PKI made with openssl for the TLS tests: a CA, server certificates (right host,
 * wrong host, expired) and a client certificate, all signed by it. `openssl ca` is used where
 * dates must lie in the past; everything lives in one temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { needTool } from '../helpers/tools.js';

export const hasOpenssl = needTool('openssl', spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0, 'the TLS and certificate tests');

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface Pki {
  readonly ca: string;
  /** For 127.0.0.1, valid now. */
  readonly server: KeyPair;
  /** Valid now, but only for wrong.example. */
  readonly wrongHost: KeyPair;
  /** For 127.0.0.1, but expired in 2020. */
  readonly expired: KeyPair;
  /** A client certificate (CN=floorgate) for brokers that require one. */
  readonly client: KeyPair;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makePki(dir: string): Pki {
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', ...EC, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=floorgate test CA');
  fs.writeFileSync(f('index.txt'), '');
  fs.writeFileSync(f('serial'), '1000\n');
  fs.writeFileSync(f('ca.cnf'), [
    '[ca]', 'default_ca = test', '[test]', `database = ${f('index.txt')}`, `new_certs_dir = ${dir}`,
    `serial = ${f('serial')}`, 'default_md = sha256', 'policy = any', 'unique_subject = no',
    '[any]', 'commonName = supplied', '',
  ].join('\n'));

  const issue = (name: string, subject: string, ext: string, dates: string[]): KeyPair => {
    ssl('req', ...EC, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', subject);
    fs.writeFileSync(f(`${name}.ext`), `${ext}\n`);
    ssl('ca', '-batch', '-config', f('ca.cnf'), '-cert', f('ca.pem'), '-keyfile', f('ca.key'), '-in', f(`${name}.csr`),
      '-out', f(`${name}.pem`), '-extfile', f(`${name}.ext`), '-notext', ...dates);
    // The client's key is floorgate's secret: only its user may read it.
    fs.chmodSync(f(`${name}.key`), 0o600);
    return { cert: f(`${name}.pem`), key: f(`${name}.key`) };
  };
  const now = ['-days', '2'];
  return {
    ca: f('ca.pem'),
    server: issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1', now),
    wrongHost: issue('wrong-host', '/CN=wrong.example', 'subjectAltName=DNS:wrong.example', now),
    expired: issue('expired', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1', ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']),
    client: issue('client', '/CN=floorgate', 'extendedKeyUsage=clientAuth', now),
  };
}
