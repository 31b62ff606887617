/**
 * Start-up: process start to READY — the sd_notify READY=1 datagram (src/systemd/notify.ts)
 * arriving at a real NOTIFY_SOCKET, received by a python3 unix-datagram socket that stamps
 * each datagram with the wall clock — with 1,000 Modbus tags and no OPC UA device, on a fresh
 * data directory. Baseline: a bare Node process from spawn to its first line on stdout.
 * Median of several starts each.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { spawnGateway, tempDir, track, writeConfig } from './gateway.js';
import { notifyReceiver } from './notify-receiver.js';
import { median, runIfMain, type Bench } from './report.js';
import { startRig } from './rig.js';

/** Spawn to first output of a bare Node: what any Node program pays before its first line. */
export async function bareNodeStart(): Promise<number> {
  const t0 = performance.now();
  const child = track(spawn(process.execPath, ['-e', 'process.stdout.write("up\\n")'], { stdio: ['ignore', 'pipe', 'ignore'] }));
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  const ms = performance.now() - t0;
  await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  return ms;
}

export const startup: Bench = async (opts) => {
  const runs = opts.full ? 7 : 3;
  const rig = await startRig();
  const dir = tempDir('startup');
  const receiver = await notifyReceiver(dir);
  try {
    const fg: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      bare.push(await bareNodeStart());
      const runDir = fs.mkdtempSync(path.join(dir, 'run-'));
      const file = writeConfig({ devices: 10, tagsPerDevice: 100, pollInterval: '1s', dir: runDir, gatewayId: 'bench-start', mqttPort: rig.broker.port, modbusPort: rig.sim.port });
      const gw = spawnGateway(file, { env: { NOTIFY_SOCKET: receiver.socketPath } });
      try {
        fg.push((await receiver.nextReady(30_000)) - gw.spawnedAt);
      } finally {
        await gw.stop();
      }
    }
    const value = median(fg);
    const base = median(bare);
    return [{
      name: 'start-up',
      value,
      unit: 'ms to READY',
      baseline: { what: 'bare Node to first output', value: base, unit: 'ms' },
      ratio: value / base,
      target: '≤ 1,000 ms',
      met: value <= 1000,
      note: `1,000 Modbus tags in 10 devices, no OPC UA, fresh data dir, READY=1 on a real NOTIFY_SOCKET; median of ${runs}`,
    }];
  } finally {
    receiver.close();
    await rig.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

runIfMain(import.meta.url, startup);
