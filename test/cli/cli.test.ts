/** The command line as an operator meets it: exit codes, help, probe, sim, run on a bad config. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, ROOT, runCli, stopAll, tempDir } from '../helpers/gateway.js';
import { startPtyPair } from '../../src/serial/pty-pair.js';

afterEach(stopAll);

async function run(args: string[]) {
  const p = runCli(args);
  const code = await p.exited;
  return { code, out: p.stdout.join('\n'), err: p.stderr.join('\n') };
}

/** `floorgate sim modbus` on a free port, and a probe config in a temp dir whose devices: list is `devices`. */
async function simAndProbeConfig(simArgs: string[], devices: (port: number) => string) {
  const sim = runCli(['sim', 'modbus', '--port', '0', ...simArgs]);
  const line = await sim.waitFor((l) => l.includes('listening on'));
  const port = Number(/:(\d+) /.exec(line)![1]);
  const dir = tempDir();
  const file = path.join(dir, 'probe.yaml');
  fs.writeFileSync(file, `gateway: { id: gw, data_dir: ${dir} }\nmqtt: { url: "mqtt://127.0.0.1:1" }\ndevices:\n${devices(port)}`);
  return { sim, dir, file };
}

describe('floorgate CLI', () => {
  it('prints help, and a usage error exits 64', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['run', 'check', 'probe', 'demo', 'sim', 'buffer stats', 'status', 'audit']) expect(help.out).toMatch(new RegExp(`^  ${cmd} `, 'm'));
    expect((await run(['frobnicate'])).code).toBe(64);
    expect((await run(['check', '--bogus'])).code).toBe(64);
    const runHelp = await run(['run', '--help']);
    expect(runHelp.code).toBe(0);
    expect(runHelp.out).toContain('usage: floorgate run');
  });

  it('-V, --version and version print the version', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['-V'], ['--version'], ['version']]) {
      const r = await run(args);
      expect(r.code, args[0]).toBe(0);
      expect(r.out, args[0]).toBe(version);
    }
  });

  it('usage errors go to stderr, not stdout, with exit 64', async () => {
    for (const args of [[], ['frobnicate'], ['check', '--bogus'], ['demo', '--duration', 'soon'], ['buffer', 'depth'],
      ['sim'], ['sim', 'modbus', '--port', 'x'], ['browse', '-c', 'config/demo.yaml', '--device', 'nope'],
      ['probe', '-c', 'config/demo.yaml', '--device', 'nope']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(64);
      expect(r.out, args.join(' ')).toBe('');
      expect(r.err, args.join(' ')).not.toBe('');
    }
  });

  it('help fits in 100 columns and describes every option of every command', async () => {
    const help = await run(['--help']);
    const names = [...help.out.matchAll(/^ {2}(\w+)/gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['run', 'check', 'probe', 'demo', 'sim', 'buffer', 'status', 'browse', 'audit', 'version']));
    for (const text of [help.out, ...await Promise.all(names.map(async (name) => {
      const r = await run([name, '--help']);
      expect(r.code, name).toBe(0);
      // Every option the usage line names has a line of its own that says what it does.
      const usage = r.out.split('\n\n')[0];
      for (const [option] of usage.matchAll(/--[\w-]+/g)) expect(r.out, `${name} ${option}`).toMatch(new RegExp(`^ {2}(-\\w, )?${option}\\b.*\\s{2}\\w+ \\w+`, 'm'));
      expect(r.out, name).toMatch(/^ {2}-h, --help\s{2}/m);
      return r.out;
    }))]) {
      for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
    }
  });

  it('the built CLI runs by its shebang, flags and all, as npx, the bin link and the unit run it', () => {
    const direct = spawnSync(CLI, ['--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(direct.error).toBeUndefined();
    expect(direct.status).toBe(0);
    expect(direct.stdout).toMatch(/^ {2}run /m);
  });

  it('run, probe, browse and buffer stats refuse an invalid config on stderr with exit 78 and FILE:LINE:COL, no stack trace', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'gateway:\n  id: gw\nmqtt:\n  url: mqtt://127.0.0.1:1\n  qos: 7\ndevices: []\n');
    // Their stdout is data (readings, nodes, figures): a script reading it gets nothing, not the problems.
    for (const args of [['run'], ['probe'], ['browse', '--device', 'oven'], ['buffer', 'stats']]) {
      const r = await run([...args, '-c', file]);
      expect(r.code, args[0]).toBe(78);
      expect(r.out, args[0]).toBe('');
      expect(r.err, args[0]).toMatch(new RegExp(`^${file}:5:8: mqtt\\.qos: `, 'm'));
      expect(r.err, args[0]).not.toMatch(/\n\s+at /);
    }
    fs.rmSync(dir, { recursive: true });
  });

  it('sim modbus + probe: a table of every tag, exit 0; an unreachable device exits 1', async () => {
    const { sim, dir, file } = await simAndProbeConfig([], (port) => `  - name: press-1
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

  it('probe: a device that connects but answers no tag is not reachable: exit 1, with a hint', async () => {
    // A unit behind a gateway that is not the one configured: the connection is fine, every read times out.
    const { sim, dir, file } = await simAndProbeConfig(['--unit', '7'], (port) => `  - name: behind-gateway
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${port}
    unit_id: 1
    timeout: 300ms
    tags:
      - { name: counter, area: holding, address: 2, type: uint32 }
      - { name: running, area: coil, address: 0, type: bool }
`);
    const probe = await run(['probe', '-c', file]);
    expect(probe.code).toBe(1);
    expect(probe.out).toMatch(/behind-gateway\s+counter\s+holding 2\.\.3\s+bad\s+.*timeout after 300 ms/);
    expect(probe.out).toMatch(/^behind-gateway: connected, but no tag could be read; check unit_id \(now 1\).*another master/m);
    expect(probe.out).toContain('0 of 1 devices reachable');
    expect(await sim.stop('SIGINT')).toBe(0);
    fs.rmSync(dir, { recursive: true });
  });

  it('demo runs the whole pipeline and exits 0 leaving nothing behind', async () => {
    const demoDirs = () => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('floorgate-demo-')).sort();
    const before = demoDirs();
    const demo = runCli(['demo'], { group: true });
    // A newcomer is told at once what is starting (node-opcua takes seconds to load), not left
    // before a silent terminal (8.6 s before); 5 s, not 1, for a machine busy with other tests.
    expect(await demo.waitFor(() => true, 5000)).toMatch(/^floorgate demo: starting /);
    // The OPC UA server joins last; the scale reports once a second.
    await demo.waitFor((l) => /oven .*(zone1_temp|batch_id)=/.test(l), 25_000);
    await demo.waitFor((l) => /scale-1 .*weight=/.test(l));
    // Ctrl-C reaches the whole group, socat's pty pair too: the scale must not be reported lost
    // while the demo stops.
    expect(await demo.stop('SIGINT')).toBe(0);
    expect(demo.stderr.filter((l) => /serial port lost/.test(l))).toEqual([]);
    const out = demo.stdout.join('\n');
    // Nor alarmed by a library's warnings (node-opcua's W27 about --security-revert). The gateway's
    // own warnings may be there: on a loaded machine a device can be slow to answer at first.
    expect(demo.stderr.join('\n')).not.toMatch(/NODE-OPCUA|security-revert|verify_pcks1/);
    // Its own in words, not JSON (where the kernel says the clock is not synchronised, there is one).
    expect(demo.stderr.filter((l) => l.startsWith('{'))).toEqual([]);
    expect(out).toMatch(/gateway online/);
    expect(out).toMatch(/seq\s+1\s+press-1/);
    expect(out).toMatch(/press-1 .*counter=\d+/);
    expect(out).toMatch(/oven .*(zone1_temp|batch_id)=/);
    expect(out).toMatch(/scale-1 .*weight=\d+\.\d+/);
    expect(out).toContain('stopping the demo');
    expect(demoDirs()).toEqual(before);
  }, 40_000);
});

describe('floorgate sim on a serial line', () => {
  it('sim modbus --rtu serves two units on a pty; probe reads both over one shared port', async () => {
    const dir = tempDir();
    const pty = await startPtyPair(path.join(dir, 'plc'), path.join(dir, 'gw'));
    const sim = runCli(['sim', 'modbus', '--rtu', pty.dev, '--unit', '1,2', '--baud', '19200']);
    await sim.waitFor((l) => l.includes('listening on'));
    const file = path.join(dir, 'rtu.yaml');
    const unit = (n: number) => `
  - name: drive-${n}
    driver: modbus_rtu
    port: ${pty.peer}
    baud_rate: 19200
    unit_id: ${n}
    tags:
      - { name: counter, area: holding, address: 2, type: uint32 }
      - { name: running, area: coil, address: 0, type: bool }`;
    fs.writeFileSync(file, `gateway: { id: gw, data_dir: ${dir} }\nmqtt: { url: "mqtt://127.0.0.1:1" }\ndevices:${unit(1)}${unit(2)}\n`);
    const probe = await run(['probe', '-c', file]);
    expect(probe.code).toBe(0);
    expect(probe.out).toMatch(/drive-1\s+counter\s+holding 2\.\.3\s+\d+\s+good/);
    expect(probe.out).toMatch(/drive-2\s+running\s+coil 0\s+(true|false)\s+good/);
    expect(probe.out).toContain('2 of 2 devices reachable');
    expect(await sim.stop('SIGINT')).toBe(0);
    expect(Number(/stopped after (\d+) requests/.exec(sim.stdout.join('\n'))![1])).toBeGreaterThanOrEqual(4);
    await pty.close();
    fs.rmSync(dir, { recursive: true });
  });

  it('sim serial prints scale lines on a pty', async () => {
    const dir = tempDir();
    const pty = await startPtyPair(path.join(dir, 'scale'), path.join(dir, 'gw'));
    const sim = runCli(['sim', 'serial', '--path', pty.dev]);
    await sim.waitFor((l) => l.includes('listening on'));
    const received = await new Promise<string>((resolve, reject) => {
      const stream = fs.createReadStream(pty.peer, { encoding: 'latin1' });
      let text = '';
      const timer = setTimeout(() => { stream.destroy(); reject(new Error(`no line: ${JSON.stringify(text)}`)); }, 5_000);
      stream.on('data', (chunk) => {
        text += chunk;
        if (text.includes('\r\n')) { clearTimeout(timer); stream.destroy(); resolve(text); }
      });
    });
    expect(received).toMatch(/ST,GS,\s*[-+]?\d+\.\d+ kg\r\n/);
    expect(await sim.stop('SIGINT')).toBe(0);
    await pty.close();
    fs.rmSync(dir, { recursive: true });
  });
});
