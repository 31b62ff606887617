/** The command line as an operator meets it: exit codes, help, probe, sim, run on a bad config. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, stopAll, tempDir } from '../helpers/gateway.js';

afterEach(stopAll);

async function run(args: string[]) {
  const p = runCli(args);
  const code = await p.exited;
  return { code, out: p.stdout.join('\n'), err: p.stderr.join('\n') };
}

describe('floorgate CLI', () => {
  it('prints help, and a usage error exits 64', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['run', 'check', 'probe', 'demo', 'sim', 'buffer stats', 'status', 'audit']) expect(help.out).toContain(`floorgate ${cmd}`);
    expect((await run(['frobnicate'])).code).toBe(64);
    expect((await run(['check', '--bogus'])).code).toBe(64);
    const runHelp = await run(['run', '--help']);
    expect(runHelp.code).toBe(0);
    expect(runHelp.out).toContain('usage: floorgate run');
  });

  it('run refuses an invalid config with exit 78 and FILE:LINE:COL, no stack trace', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'gateway:\n  id: gw\nmqtt:\n  url: mqtt://127.0.0.1:1\n  qos: 7\ndevices: []\n');
    const r = await run(['run', '-c', file]);
    expect(r.code).toBe(78);
    expect(r.err).toMatch(new RegExp(`^${file}:5:8: mqtt\\.qos: `, 'm'));
    expect(r.err).not.toMatch(/\n\s+at /);
    fs.rmSync(dir, { recursive: true });
  });

  it('sim modbus + probe: a table of every tag, exit 0; an unreachable device exits 1', async () => {
    const sim = runCli(['sim', 'modbus', '--port', '0']);
    const line = await sim.waitFor((l) => l.includes('listening on'));
    const port = Number(/:(\d+) /.exec(line)![1]);
    const dir = tempDir();
    const file = path.join(dir, 'probe.yaml');
    fs.writeFileSync(file, `gateway: { id: gw, data_dir: ${dir} }
mqtt: { url: "mqtt://127.0.0.1:1" }
devices:
  - name: press-1
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${port}
    tags:
      - { name: recipe, area: holding, address: 10, type: string, length: 8 }
      - { name: alarm, area: holding, address: 5, type: bool, bit: 3 }
  - name: ghost
    driver: modbus_tcp
    host: 127.0.0.1
    port: 1
    timeout: 300ms
    tags:
      - { name: x, area: holding, address: 0, type: uint16 }
`);
    const ok = await run(['probe', '-c', file, '--device', 'press-1']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/press-1\s+recipe\s+holding 10\.\.17\s+"PRESS-FORM-A17"\s+good/);
    expect(ok.out).toMatch(/press-1\s+alarm\s+holding 5 bit 3\s+(true|false)\s+good/);
    expect(ok.out).toContain('1 of 1 devices reachable');

    const all = await run(['probe', '-c', file]);
    expect(all.code).toBe(1);
    expect(all.out).toMatch(/ghost\s+x\s+holding 0\s+bad\s+unreachable: .*ECONNREFUSED/);
    expect(all.out).toContain('1 of 2 devices reachable');
    expect(await sim.stop('SIGINT')).toBe(0);
    expect(sim.stdout.join('\n')).toMatch(/stopped after \d+ requests/);
    fs.rmSync(dir, { recursive: true });
  });

  it('demo runs the whole pipeline and exits 0 leaving nothing behind', async () => {
    const demoDirs = () => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('floorgate-demo-')).sort();
    const before = demoDirs();
    const demo = runCli(['demo', '--duration', '4s']);
    const code = await demo.exited;
    const out = demo.stdout.join('\n');
    expect(code).toBe(0);
    expect(out).toMatch(/gateway online/);
    expect(out).toMatch(/seq\s+1\s+press-1/);
    expect(out).toMatch(/counter=\d+/);
    expect(out).toContain('stopping the demo');
    expect(demoDirs()).toEqual(before);
  }, 20_000);
});
