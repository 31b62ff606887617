/**
 * `floorgate status` as an operator sees it: a real `floorgate run` with its config in a
 * directory only root may read, like /etc/floorgate (0750 root:floorgate), and `status` run as an unprivileged user
 * through setpriv. It must find the daemon from the address the daemon published in its runtime
 * directory, without reading the config, and say "permission denied" (77) where it cannot.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';
import { freePort } from '../helpers/broker.js';
import { CLI, runCli, stopAll, tempDir, writeGatewayConfig, type CliProcess } from '../helpers/gateway.js';
import { needTool, onPath } from '../helpers/tools.js';
import { eventually, getJson } from '../faults/rig.js';

const canDropPrivileges = needTool('root', process.getuid?.() === 0, 'floorgate status as an unprivileged user (setpriv)')
  && needTool('setpriv', onPath('setpriv'), 'floorgate status as an unprivileged user');
const NOBODY = '65534';

let sim: ModbusSim;
let etc: string;
let runDir: string;
let config: string;
let daemon: CliProcess;
let httpPort: number;

/**
 * `floorgate ARGS` as uid/gid 65534, with the daemon's runtime directory in its
 * environment, and the CPU seconds it took (bash's `time`: wall time on a shared, loaded test
 * machine says little). Not spawnSync: the simulated PLC lives in this process and must keep answering.
 */
function floorgateAsNobody(args: string[], runtimeDirectory = runDir): Promise<{ code: number | null; out: string; cpuSeconds: number }> {
  const timed = 'TIMEFORMAT="cpu %3U %3S"; time "$@"';
  const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'bash', '-c', timed, 'floorgate', process.execPath, CLI, ...args], {
    env: { ...process.env, RUNTIME_DIRECTORY: runtimeDirectory }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000,
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => child.on('close', (code) => {
    const cpu = /\ncpu (\S+) (\S+)\n$/.exec(out);
    resolve({ code, out: cpu ? out.slice(0, cpu.index + 1) : out, cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN });
  }));
}

describe.runIf(canDropPrivileges)('floorgate status as an operator outside group floorgate', () => {
  beforeAll(async () => {
    sim = await startModbusSim();
    etc = tempDir('floorgate-etc-');
    fs.chmodSync(etc, 0o750);
    runDir = tempDir('floorgate-run-');
    fs.chmodSync(runDir, 0o755);
    // Port 0: only the published address can tell where the daemon listens.
    config = writeGatewayConfig({ dir: etc, mqttPort: await freePort(), modbusPort: sim.port, httpPort: 0 });
    daemon = runCli(['run', '-c', config], { env: { RUNTIME_DIRECTORY: runDir } });
    const line = await daemon.waitFor((_l, j) => j?.msg === 'floorgate started', 20_000);
    httpPort = (JSON.parse(line) as { http_port: number }).http_port;
    await eventually(async () => (await getJson(httpPort, '/healthz')).body.devices['press-1'].up, 10_000, 'the first poll');
  });

  afterAll(async () => {
    await stopAll();
    await sim?.close();
    for (const dir of [etc, runDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('asks the daemon at the address it published, without reading the config, at the cost of little more than starting node', async () => {
    const { code, out, cpuSeconds } = await floorgateAsNobody(['status', '-c', config]);
    // Degraded: the broker is not there.
    expect(out.split('\n')[0]).toBe(`floorgate test-gw at http://127.0.0.1:${httpPort}: DEGRADED (broker unreachable)`);
    expect(code).toBe(1);
    // Node's own start-up included (0.1–0.2 s here, more under load); loading and checking the
    // config took 1.4–3.6 s on a gateway. That it ran at all as nobody shows no config was read.
    expect(cpuSeconds).toBeLessThan(1);
    // Figures for people: 0.8 ms, never 0.7704530000009981 ms.
    expect(out).toMatch(/event-loop lag \d+(\.\d)? ms, last commit \d+(\.\d)? ms\n/);
    expect(out).toMatch(/^press-1 +up +.* \d+(\.\d)? ms +-$/m);
  });

  it('says "permission denied" with exit 77 (not a configuration error) when no daemon published its address', async () => {
    const empty = tempDir('floorgate-run-empty-');
    fs.chmodSync(empty, 0o755);
    try {
      const { code, out } = await floorgateAsNobody(['status', '-c', config], empty);
      expect(out).toContain(`${config}: permission denied`);
      expect(out).toContain('--url');
      expect(code).toBe(77);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('check, probe and run say "permission denied" with exit 77, not a configuration error', async () => {
    for (const command of ['check', 'probe', 'run']) {
      const { code, out } = await floorgateAsNobody([command, '-c', config]);
      expect(out, command).toContain(`${config}:1:1: (root): cannot read the config file: permission denied (it holds secrets: root and group floorgate may read it)`);
      expect(code, command).toBe(77);
    }
  });

  it('asks where --url says', async () => {
    const { code, out } = await floorgateAsNobody(['status', '--url', `http://127.0.0.1:${httpPort}`], '/nonexistent');
    expect(out.split('\n')[0]).toBe(`floorgate at http://127.0.0.1:${httpPort}: DEGRADED (broker unreachable)`);
    expect(code).toBe(1);
  });

  it('publishes the address readable by everyone, and removes it on a clean stop', async () => {
    const file = path.join(runDir, 'http.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ url: `http://127.0.0.1:${httpPort}`, gateway: 'test-gw', config, pid: daemon.pid });
    expect(await daemon.stop('SIGTERM')).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
  });
});
