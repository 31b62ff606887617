/**
 * A core dump of floorgate would carry its secrets (MQTT password, TLS key, OPC UA password) to
 * wherever cores go; so would ptrace by another process of the same user. `floorgate run` makes
 * itself non-dumpable (prctl PR_SET_DUMPABLE 0) and the unit sets LimitCORE=0.
 *
 * How it is seen from outside: the kernel has no "Dumpable" line in /proc/<pid>/status, but it
 * makes every file of a non-dumpable process's /proc/<pid>/ owned by root (proc(5), PR_SET_DUMPABLE),
 * where a dumpable one's belong to the process's own uid. So the daemon runs as uid 65534
 * (setpriv) and the owner of /proc/<pid>/status tells: 65534 dumpable, 0 not.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';
import { freePort } from '../helpers/broker.js';
import { CLI, tempDir, writeGatewayConfig } from '../helpers/gateway.js';
import { reapOnExit } from '../helpers/reap.js';
import { needTool, onPath } from '../helpers/tools.js';
import { eventually, getText, metric } from '../faults/rig.js';

const NOBODY = 65534;
const canDropPrivileges = needTool('root', process.getuid?.() === 0, 'floorgate run as an unprivileged user (setpriv)')
  && needTool('setpriv', onPath('setpriv'), 'floorgate run as an unprivileged user');

let sim: ModbusSim;
let dir: string;

beforeAll(async () => {
  sim = await startModbusSim();
  dir = tempDir('floorgate-dumpable-');
  fs.chownSync(dir, NOBODY, NOBODY);
});

afterAll(async () => {
  await sim?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe.runIf(canDropPrivileges)('core dumps', () => {
  it('floorgate run is not dumpable: its /proc/<pid>/ files belong to root, not to its own uid', async () => {
    const config = writeGatewayConfig({ dir, mqttPort: await freePort(), modbusPort: sim.port, httpPort: 0 });
    const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, CLI, 'run', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    reapOnExit(child);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const started = await eventually(() => /"http_port":(\d+)[^\n]*"msg":"floorgate started"/.exec(out) ?? undefined, 20_000, 'floorgate started');
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe(String(NOBODY));
      expect(fs.statSync(`/proc/${child.pid}/status`).uid).toBe(0);
      expect(fs.statSync(`/proc/${child.pid}/mem`).uid).toBe(0);
      // Its own /proc/self stays readable to it: the process metrics still come.
      expect(metric(await getText(Number(started[1]), '/metrics'), 'process_open_fds')).toBeGreaterThan(0);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
