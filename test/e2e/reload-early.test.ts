/**
 * A SIGHUP while `floorgate run` is still starting (logrotate, an operator's reload at boot) must
 * not end it: SIGHUP's default action is to terminate. The signal is sent as soon as the process
 * catches SIGHUP at all (SigCgt in /proc/<pid>/status), which on a fixed daemon is well before
 * "floorgate started"; the reload then happens once it has started, and is counted.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';
import { freePort } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, writeGatewayConfig } from '../helpers/gateway.js';
import { eventually, getText, metric, sleep } from '../faults/rig.js';

let sim: ModbusSim;
let dir: string;

beforeAll(async () => {
  sim = await startModbusSim();
  dir = tempDir('floorgate-early-hup-');
});

afterAll(async () => {
  await stopAll();
  await sim?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Whether the process has a handler for SIGHUP (signal 1: the lowest bit of SigCgt). */
function catchesSighup(pid: number): boolean {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)![1];
  return (BigInt(`0x${caught}`) & 1n) === 1n;
}

describe('SIGHUP during start-up', () => {
  it('keeps the daemon running, and reloads once it has started', async () => {
    const config = writeGatewayConfig({ dir, mqttPort: await freePort(), modbusPort: sim.port, httpPort: 0 });
    const gw = runCli(['run', '-c', config]);
    const deadline = Date.now() + 10_000;
    while (!catchesSighup(gw.pid) && Date.now() < deadline) await sleep(2);
    process.kill(gw.pid, 'SIGHUP');

    const line = await gw.waitFor((_l, j) => j?.msg === 'floorgate started', 20_000);
    const httpPort = (JSON.parse(line) as { http_port: number }).http_port;
    const reloads = await eventually(async () => metric(await getText(httpPort, '/metrics'), 'floorgate_config_reloads_total', { result: 'ok' }), 10_000, 'the reload counted');
    expect(reloads).toBe(1);
    // The daemon's own word that the signal came before it had started.
    expect(gw.stdout.some((l) => l.includes('SIGHUP arrived while starting'))).toBe(true);
    expect(await gw.stop('SIGTERM')).toBe(0);
  });
});
