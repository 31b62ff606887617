/**
 * Memory: RSS of `floorgate run` polling 1,000 Modbus tags every second (10 devices × 100),
 * connected, as under systemd (a real NOTIFY_SOCKET and a 30 s watchdog), in steady state (median of one sample a second after a warm-up) ÷ the RSS of a
 * bare Node process (`node -e` with one timer) measured beside it. --full adds 10,000 tags
 * (50 × 200). V8 frees the old space in full GCs tens of seconds apart, so RSS saws up and
 * down: the sampling spans such cycles and the note gives the peak too.
 */
import fs from 'node:fs';
import { MB, rssBytes } from './procfs.js';
import { spawnBareNode, spawnGateway, tempDir, writeConfig, type Layout } from './gateway.js';
import { notifyReceiver } from './notify-receiver.js';
import { median, runIfMain, sleep, type Bench, type Figure } from './report.js';
import { startRig, type Rig } from './rig.js';

const WARMUP_MS = 15_000;
const SAMPLES = 5;
const GATEWAY_SAMPLES = 30;

interface Rss {
  readonly median: number;
  readonly peak: number;
}

async function gatewayRss(rig: Rig, layout: Layout, id: string): Promise<Rss> {
  const dir = tempDir('memory');
  const file = writeConfig({ ...layout, dir, gatewayId: id, mqttPort: rig.broker.port, modbusPort: rig.sim.port });
  const receiver = await notifyReceiver(dir);
  const gw = spawnGateway(file, { env: { NOTIFY_SOCKET: receiver.socketPath, WATCHDOG_USEC: '30000000' } });
  try {
    await gw.started;
    await sleep(WARMUP_MS);
    const samples: number[] = [];
    for (let i = 0; i < GATEWAY_SAMPLES; i++) {
      samples.push(rssBytes(gw.pid));
      await sleep(1000);
    }
    return { median: median(samples), peak: Math.max(...samples) };
  } finally {
    await gw.stop();
    receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function bareNodeRss(): Promise<number> {
  const child = spawnBareNode();
  try {
    await sleep(2_000);
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      samples.push(rssBytes(child.pid!));
      await sleep(200);
    }
    return median(samples);
  } finally {
    child.kill('SIGKILL');
  }
}

/** One memory row: the gateway's median RSS over bare Node's, against BENCH.md's limit. */
function figure(name: string, layout: Layout, rss: Rss, bare: number, limit: number): Figure {
  const tags = (layout.devices * layout.tagsPerDevice).toLocaleString('en-US');
  return {
    name,
    value: rss.median / MB,
    unit: `MB RSS with ${tags} tags at 1 s`,
    baseline: { what: 'bare Node', value: bare / MB, unit: 'MB' },
    ratio: rss.median / bare,
    target: `≤ ${limit}`,
    met: rss.median / bare <= limit,
    note: `${layout.devices} devices × ${layout.tagsPerDevice} tags, connected, under a NOTIFY_SOCKET and watchdog, steady state ` +
      `(median of ${GATEWAY_SAMPLES} samples a second after ${WARMUP_MS / 1000} s; peak ${(rss.peak / MB).toFixed(0)} MB)`,
  };
}

const TAGS_1K: Layout = { devices: 10, tagsPerDevice: 100, pollInterval: '1s' };
const TAGS_10K: Layout = { devices: 50, tagsPerDevice: 200, pollInterval: '1s' };

export const memory: Bench = async (opts) => {
  const rig = await startRig();
  try {
    const [bare, rss1k] = await Promise.all([bareNodeRss(), gatewayRss(rig, TAGS_1K, 'bench-mem-1k')]);
    const figures = [figure('memory', TAGS_1K, rss1k, bare, 1.8)];
    if (opts.full) figures.push(figure('memory, 10,000 tags', TAGS_10K, await gatewayRss(rig, TAGS_10K, 'bench-mem-10k'), bare, 2.5));
    return figures;
  } finally {
    await rig.close();
  }
};

runIfMain(import.meta.url, memory);
