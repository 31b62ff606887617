/**
 * Idle: the CPU `floorgate run` costs when there is almost nothing to do — one Modbus TCP device,
 * one tag polled every second, JSON at QoS 1 to mosquitto, the HTTP listener on, under a
 * NOTIFY_SOCKET with the shipped unit's 30 s watchdog — against a bare Node process with one 1 s
 * timer, measured in the same window on the same core. A gateway that idles at 1 ms CPU/s
 * leaves a Pi's core to the plant; every timer that wakes without work adds to it.
 *
 * CPU time comes from schedstat in nanoseconds: clock ticks (10 ms) resolved only 0.17 ms/s in
 * a 60 s window. The note gives the main thread's wake-ups per second (voluntary context
 * switches): ideally one per poll, plus its socket round trips.
 */
import fs from 'node:fs';
import { GATEWAY_CORE, mainThreadWakeUps, onCore, onCpuSeconds } from './procfs.js';
import { spawnBareNode, spawnGateway, tempDir, writeConfig } from './gateway.js';
import { notifyReceiver } from './notify-receiver.js';
import { median, num, runIfMain, sleep, type Bench } from './report.js';
import { spawnRawPipeline, startRig, type Rig } from './rig.js';

const WARMUP_MS = 10_000;
const WINDOW_MS = 60_000;
const TARGET_MS_PER_S = 1;

interface Window {
  /** CPU ms per wall second, floorgate and bare Node. */
  readonly fg: number;
  readonly bare: number;
  /** floorgate's main-thread wake-ups per second. */
  readonly wakeUps: number;
  readonly readings: number;
  readonly published: number;
}

/** CPU ms per wall second of each process over one window. */
async function cpuOver(pids: readonly number[]): Promise<{ msPerS: number[]; seconds: number }> {
  const t0 = performance.now();
  const before = pids.map(onCpuSeconds);
  await sleep(WINDOW_MS);
  const seconds = (performance.now() - t0) / 1000;
  return { msPerS: pids.map((pid, i) => ((onCpuSeconds(pid) - before[i]) * 1000) / seconds), seconds };
}

/**
 * The same read and publish by the least code, each a poll a second, alone on the core after
 * floorgate (beside it, each process's wake-ups cost more in cold caches): without a buffer (the
 * floor) and with SQLite commits (the raw pipeline). For scale, not a target.
 */
async function pipelineCost(rig: Rig, dir: string, buffered: boolean, windows: number): Promise<number[]> {
  const pipeline = await spawnRawPipeline({
    dir, gatewayId: `bench-idle-${buffered ? 'raw' : 'floor'}`, mqttPort: rig.broker.port, modbusPort: rig.sim.port,
    devices: 1, tagsPerDevice: 1, intervalMs: 1000, commitMs: 1000, inflight: 64, buffered, reportMs: 3_600_000,
  }, GATEWAY_CORE);
  try {
    await sleep(WARMUP_MS);
    const costs: number[] = [];
    for (let i = 0; i < windows; i++) costs.push((await cpuOver([pipeline.pid])).msPerS[0]);
    return costs;
  } finally {
    await pipeline.stop();
  }
}

export const idle: Bench = async (opts) => {
  const windows = opts.full ? 3 : 1;
  const rig = await startRig();
  const dir = tempDir('idle');
  const receiver = await notifyReceiver(dir);
  try {
    const file = writeConfig({ devices: 1, tagsPerDevice: 1, pollInterval: '1s', dir, gatewayId: 'bench-idle', mqttPort: rig.broker.port, modbusPort: rig.sim.port });
    const gw = spawnGateway(file, { core: GATEWAY_CORE, env: { NOTIFY_SOCKET: receiver.socketPath, WATCHDOG_USEC: '30000000' } });
    const bare = spawnBareNode(onCore(GATEWAY_CORE));
    const measured: Window[] = [];
    try {
      await gw.started;
      await sleep(WARMUP_MS);
      for (let i = 0; i < windows; i++) {
        // The scrape costs the gateway CPU too: it is taken outside the window.
        const m0 = await gw.metrics();
        const w0 = mainThreadWakeUps(gw.pid);
        const { msPerS: [fg, bareMs], seconds } = await cpuOver([gw.pid, bare.pid!]);
        const w1 = mainThreadWakeUps(gw.pid);
        const m1 = await gw.metrics();
        measured.push({ fg, bare: bareMs, wakeUps: (w1 - w0) / seconds, readings: m1.readings - m0.readings, published: m1.published - m0.published });
      }
    } finally {
      bare.kill('SIGKILL');
      await gw.stop();
    }
    const floor = await pipelineCost(rig, dir, false, windows);
    const raw = await pipelineCost(rig, dir, true, windows);
    const fg = median(measured.map((w) => w.fg));
    const base = median(measured.map((w) => w.bare));
    const range = (values: number[]) => (values.length > 1 ? ` (${num(Math.min(...values))}–${num(Math.max(...values))})` : '');
    const last = measured[measured.length - 1];
    return [{
      name: 'idle CPU',
      value: fg,
      unit: 'ms CPU per s',
      baseline: { what: 'bare Node with a 1 s timer', value: base, unit: 'ms/s' },
      ratio: fg / base,
      target: `≤ ${TARGET_MS_PER_S} ms/s`,
      met: fg <= TARGET_MS_PER_S,
      note: `1 Modbus TCP device, 1 tag at 1 s, JSON QoS 1, HTTP on, 30 s watchdog, one core; ` +
        `${windows === 1 ? 'one' : `median of ${windows}`} ${WINDOW_MS / 1000} s window${windows === 1 ? '' : 's'} after ${WARMUP_MS / 1000} s` +
        `${range(measured.map((w) => w.fg))}; ${num(median(measured.map((w) => w.wakeUps)))} main-thread wake-ups/s; ` +
        `${last.readings} readings read and ${last.published} messages acknowledged in the last window; ` +
        `then alone, the same read and JSON at QoS 1 with no buffer (the floor) ${num(median(floor))} ms/s${range(floor)}, ` +
        `with SQLite commits (the raw pipeline) ${num(median(raw))} ms/s${range(raw)}`,
    }];
  } finally {
    receiver.close();
    await rig.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

runIfMain(import.meta.url, idle);
