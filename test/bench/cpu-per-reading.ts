/**
 * CPU per 1,000 readings in steady state, at 1,000 tags (10 devices × 100) and 10,000 tags
 * (50 × 200) polled every second with the default configuration, against the floor measured in
 * the same run on the same core: the raw pipeline with `buffered: false` (the same Modbus reads,
 * the same JSON published at QoS 1, nothing stored), what a hand-made flow costs. The figure is
 * floorgate's own CPU (utime + stime) over a window after a warm-up, per 1,000 readings taken.
 */
import fs from 'node:fs';
import { cpuSeconds, GATEWAY_CORE, MB, rssBytes } from './procfs.js';
import { measureWindow, spawnGateway, tempDir, writeConfig, type Layout } from './gateway.js';
import { runIfMain, sleep, type Bench, type Figure } from './report.js';
import { spawnRawPipeline, startRig, type Rig } from './rig.js';

/** Long enough for the JIT to settle and the first commits and acks to have happened. */
const WARMUP_MS = 10_000;

interface Scenario {
  readonly layout: Layout;
  /** Issue 19's target, CPU s per 1,000 readings. */
  readonly target: number;
}

const SCENARIOS: readonly Scenario[] = [
  { layout: { devices: 10, tagsPerDevice: 100, pollInterval: '1s' }, target: 0.010 },
  { layout: { devices: 50, tagsPerDevice: 200, pollInterval: '1s' }, target: 0.005 },
];

interface Cost {
  /** CPU s per 1,000 readings. */
  readonly cpu: number;
  readonly rss: number;
}

async function floorgateCost(rig: Rig, layout: Layout, windowMs: number): Promise<Cost> {
  const dir = tempDir('cpu');
  const file = writeConfig({ ...layout, dir, gatewayId: 'bench-cpu', mqttPort: rig.broker.port, modbusPort: rig.sim.port });
  const gw = spawnGateway(file, { core: GATEWAY_CORE });
  try {
    await gw.started;
    await sleep(WARMUP_MS);
    const w = await measureWindow(gw, windowMs);
    return { cpu: (w.cpuSeconds / w.readings) * 1000, rss: w.rss };
  } finally {
    await gw.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function floorCost(rig: Rig, layout: Layout, windowMs: number): Promise<Cost> {
  const dir = tempDir('cpu-floor');
  const floor = await spawnRawPipeline({
    dir, gatewayId: 'bench-cpu-floor', mqttPort: rig.broker.port, modbusPort: rig.sim.port, devices: layout.devices,
    tagsPerDevice: layout.tagsPerDevice, intervalMs: 1000, commitMs: 1000, inflight: 64, buffered: false,
  }, GATEWAY_CORE);
  try {
    await sleep(WARMUP_MS);
    const r0 = floor.counters();
    const c0 = cpuSeconds(floor.pid);
    await sleep(windowMs);
    const r1 = floor.counters();
    return { cpu: ((cpuSeconds(floor.pid) - c0) / (r1.readings - r0.readings)) * 1000, rss: rssBytes(floor.pid) };
  } finally {
    await floor.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const cpuPerReading: Bench = async (opts) => {
  const windowMs = opts.full ? 60_000 : 10_000;
  const rig = await startRig();
  try {
    const figures: Figure[] = [];
    for (const { layout, target } of SCENARIOS) {
      const fg = await floorgateCost(rig, layout, windowMs);
      const floor = await floorCost(rig, layout, windowMs);
      const tags = layout.devices * layout.tagsPerDevice;
      figures.push({
        name: `CPU per 1,000 readings, ${tags.toLocaleString('en-US')} tags`,
        value: fg.cpu,
        unit: 'CPU s',
        baseline: { what: 'floor (same reads and JSON at QoS 1, no buffer)', value: floor.cpu, unit: 's' },
        ratio: fg.cpu / floor.cpu,
        target: `≤ ${target} s`,
        met: fg.cpu <= target,
        note: `${layout.devices} devices × ${layout.tagsPerDevice} float32 tags every ${layout.pollInterval}, default config, `
          + `${windowMs / 1000} s window after ${WARMUP_MS / 1000} s, one core; RSS ${(fg.rss / MB).toFixed(1)} MB (floor ${(floor.rss / MB).toFixed(1)} MB)`,
      });
    }
    return figures;
  } finally {
    await rig.close();
  }
};

runIfMain(import.meta.url, cpuPerReading);
