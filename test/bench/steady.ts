/**
 * The steady run: 1,000 tags (10 devices × 100) polled every 100 ms, commit_interval 100 ms,
 * `floorgate run` on one core. Three figures come out of it:
 *
 * - CPU per reading: CPU seconds (utime + stime from /proc/PID/stat) per 1,000,000 readings
 *   taken, over a window after a warm-up — against the raw pipeline doing the same on the
 *   same core (decode, commit, publish and nothing else).
 * - Added latency: p99 of (MQTT arrival at a QoS 1 subscriber − the reading's ts) while
 *   connected; the raw pipeline's p99 is the baseline.
 * - Memory under an outage: mosquitto is stopped and the backlog grows on disk; RSS at a
 *   backlog of N readings ÷ RSS at backlog 0 (the connected window). It must stay flat.
 */
import fs from 'node:fs';
import { cpuSeconds, GATEWAY_CORE, MB, rssBytes } from './procfs.js';
import { measureWindow, spawnGateway, tempDir, writeConfig, type Layout } from './gateway.js';
import { num, percentile, runIfMain, sleep, type Bench, type Figure } from './report.js';
import { latencyProbe, repin, spawnRawPipeline, startRig } from './rig.js';

const LAYOUT: Layout = { devices: 10, tagsPerDevice: 100, pollInterval: '100ms' };
const COMMIT_MS = 100;
const WARMUP_MS = 4_000;

interface Costs {
  readonly cpuPerMillion: number;
  readonly p99: number;
  readonly rss: number;
}

export const steady: Bench = async (opts) => {
  const windowMs = opts.full ? 60_000 : 10_000;
  const backlogTarget = opts.full ? 1_000_000 : 100_000;
  const rig = await startRig();
  try {
    const dir = tempDir('steady');
    const file = writeConfig({ ...LAYOUT, dir, gatewayId: 'bench-steady', mqttPort: rig.broker.port, modbusPort: rig.sim.port });
    const gw = spawnGateway(file, { core: GATEWAY_CORE });
    let fg: Costs;
    let outage: { rss: number; halfway: number; backlog: number; seconds: number };
    try {
      await gw.started;
      const probe = await latencyProbe(rig.broker.url, 'bench-steady');
      await sleep(WARMUP_MS);
      probe.reset();
      const w = await measureWindow(gw, windowMs);
      fg = { cpuPerMillion: (w.cpuSeconds / w.readings) * 1e6, p99: percentile(probe.delays, 99), rss: w.rss };
      await probe.close();

      // The outage: everything read from now on stays in the buffer.
      await rig.broker.stop();
      const t0 = performance.now();
      let m = await gw.metrics();
      let halfway = 0;
      while (m.bufferMessages * LAYOUT.tagsPerDevice < backlogTarget) {
        await sleep(1000);
        m = await gw.metrics();
        if (halfway === 0 && m.bufferMessages * LAYOUT.tagsPerDevice >= backlogTarget / 2) halfway = rssBytes(gw.pid);
      }
      outage = { rss: rssBytes(gw.pid), halfway, backlog: m.bufferMessages * LAYOUT.tagsPerDevice, seconds: (performance.now() - t0) / 1000 };
    } finally {
      await gw.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }

    await rig.broker.start();
    repin(rig.broker);
    const rawDir = tempDir('steady-raw');
    const raw = await spawnRawPipeline({
      dir: rawDir, gatewayId: 'bench-steady-raw', mqttPort: rig.broker.port, modbusPort: rig.sim.port, devices: LAYOUT.devices,
      tagsPerDevice: LAYOUT.tagsPerDevice, intervalMs: 100, commitMs: COMMIT_MS, inflight: 64,
    }, GATEWAY_CORE);
    let base: Costs;
    try {
      const probe = await latencyProbe(rig.broker.url, 'bench-steady-raw');
      await sleep(WARMUP_MS);
      probe.reset();
      const r0 = raw.counters();
      const c0 = cpuSeconds(raw.pid);
      await sleep(windowMs);
      const r1 = raw.counters();
      const c1 = cpuSeconds(raw.pid);
      base = { cpuPerMillion: ((c1 - c0) / (r1.readings - r0.readings)) * 1e6, p99: percentile(probe.delays, 99), rss: rssBytes(raw.pid) };
      await probe.close();
    } finally {
      await raw.stop();
      fs.rmSync(rawDir, { recursive: true, force: true });
    }

    const layout = `${LAYOUT.devices} devices × ${LAYOUT.tagsPerDevice} tags every ${LAYOUT.pollInterval}`;
    const latencyTarget = COMMIT_MS + 20;
    return [
      {
        name: 'CPU per reading',
        value: fg.cpuPerMillion,
        unit: 'CPU s per 1,000,000 readings',
        baseline: { what: 'raw pipeline', value: base.cpuPerMillion, unit: 's' },
        ratio: fg.cpuPerMillion / base.cpuPerMillion,
        target: 'as low as decode + commit + publish allow (report)',
        met: null,
        note: `${layout}, ${windowMs / 1000} s window, one core`,
      },
      {
        name: 'added latency',
        value: fg.p99,
        unit: 'ms p99',
        baseline: { what: 'raw pipeline', value: base.p99, unit: 'ms p99' },
        ratio: fg.p99 / base.p99,
        target: `≤ commit_interval + 20 ms = ${latencyTarget} ms`,
        met: fg.p99 <= latencyTarget,
        note: `MQTT arrival − read ts at a QoS 1 subscriber, ${layout}, commit_interval ${COMMIT_MS} ms`,
      },
      {
        name: 'memory under an outage',
        value: outage.rss / MB,
        unit: `MB RSS at a ${num(outage.backlog)}-reading backlog`,
        baseline: { what: 'RSS at backlog 0', value: fg.rss / MB, unit: 'MB' },
        ratio: outage.rss / fg.rss,
        target: 'flat (≤ 1.1)',
        met: outage.rss / fg.rss <= 1.1,
        note: `${layout}, broker stopped, backlog built on disk in ${Math.round(outage.seconds)} s; ` +
          `RSS ${num(outage.halfway / MB)} MB at half the backlog`,
      },
    ] satisfies Figure[];
  } finally {
    await rig.close();
  }
};

runIfMain(import.meta.url, steady);
