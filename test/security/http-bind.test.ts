/**
 * /healthz, /metrics and the status page have no authentication, so the listener binds to
 * loopback unless the operator says otherwise: the default is 127.0.0.1, and any other address
 * without `http.allow_remote: true` is a config error (exit 78 from run and check).
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFloorgateConfigText } from '../../src/assembly.js';
import { runCli, tempDir } from '../helpers/gateway.js';
import { printed, writeConfig } from './config.js';

const dir = tempDir('floorgate-http-bind-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function load(http: string) {
  return loadFloorgateConfigText(`gateway: { id: gw, data_dir: /tmp/x }\nmqtt: { url: "mqtt://127.0.0.1:1" }\n${http}devices: []\n`, '/tmp/c.yaml', {});
}

describe('the HTTP listener stays on loopback unless told', () => {
  it('defaults to 127.0.0.1', () => {
    const r = load('');
    expect(r.ok && r.config.http).toEqual({ listen: { host: '127.0.0.1', port: 9102 }, allow_remote: false });
  });

  it.each(['127.0.0.1:9102', '127.0.0.2:0', 'localhost:9102', '[::1]:9102'])('accepts the loopback address %s', (listen) => {
    expect(load(`http: { listen: "${listen}" }\n`).ok).toBe(true);
  });

  it.each(['0.0.0.0:9102', '[::]:9102', '192.168.10.5:9102', 'gateway.local:9102', '[::ffff:10.0.0.1]:9102'])(
    'refuses %s without allow_remote, and accepts it with', (listen) => {
      const refused = load(`http: { listen: "${listen}" }\n`);
      expect(refused.ok).toBe(false);
      if (!refused.ok) expect(refused.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([expect.stringMatching(/^http\.listen: .* is not a loopback address: set http\.allow_remote: true/)]);
      expect(load(`http: { listen: "${listen}", allow_remote: true }\n`).ok).toBe(true);
    });

  it('run refuses to start on 0.0.0.0 without allow_remote (exit 78)', async () => {
    const config = writeConfig(dir, { url: 'mqtt://127.0.0.1:1', listen: '0.0.0.0:0' });
    const proc = runCli(['run', '-c', config]);
    expect(await proc.exited).toBe(78);
    expect(printed(proc)).toMatch(/http\.listen: 0\.0\.0\.0 is not a loopback address/);
  });
});
