/**
 * `floorgate probe`: commissioning. Connects to each device, reads every tag once (push tags
 * included), prints one row per tag, publishes nothing. Exit 1 when a device is unreachable.
 */
import { performance } from 'node:perf_hooks';
import { loadConfig, formatProblem } from '../config/load.js';
import { createLogger } from '../log.js';
import { getDriver } from '../drivers/registry.js';
import type { DeviceConfig } from '../config/types.js';
import type { Reading } from '../driver.js';
import { errorText } from '../scheduler/device-runner.js';
import { formatTable } from './table.js';
import { EXIT } from './exit.js';

interface Row {
  device: string; tag: string; address: string; value: string; quality: string; latency: string; error: string;
}

export async function runProbe(file: string, opts: { device?: string; out: (line: string) => void }): Promise<number> {
  const loaded = loadConfig(file);
  if (!loaded.ok) {
    for (const p of loaded.problems) opts.out(formatProblem(p));
    return EXIT.config;
  }
  const devices = loaded.config.devices.filter((d) => !opts.device || d.name === opts.device);
  if (devices.length === 0) {
    opts.out(opts.device ? `no device named "${opts.device}" in ${file}` : `no devices in ${file}`);
    return EXIT.usage;
  }
  // Drivers log at warn and above only: the table is the output.
  const log = createLogger('warn');
  const rows: Row[] = [];
  let unreachable = 0;
  for (const device of devices) {
    const result = await probeDevice(device, loaded.config.gateway.data_dir, log);
    if (result.error) unreachable++;
    rows.push(...result.rows);
  }
  opts.out(formatTable(rows, ['device', 'tag', 'address', 'value', 'quality', 'latency', 'error']));
  opts.out(`${devices.length - unreachable} of ${devices.length} devices reachable`);
  return unreachable > 0 ? EXIT.failure : EXIT.ok;
}

async function probeDevice(device: DeviceConfig, dataDir: string, log: ReturnType<typeof createLogger>): Promise<{ rows: Row[]; error?: string }> {
  const module = getDriver(device.driver)!;
  const address = (tag: DeviceConfig['tags'][number]) => module.address?.(tag) ?? '';
  const signal = AbortSignal.timeout(Math.max(device.timeout * 3, 5000));
  let driver;
  try {
    driver = await module.create(device, { log: log.child({ device: device.name }), dataDir, countRequest: () => {} });
    await driver.connect(signal);
  } catch (err) {
    await driver?.close().catch(() => {});
    const error = `unreachable: ${errorText(err)}`;
    return { error, rows: device.tags.map((t) => ({ device: device.name, tag: t.name, address: address(t), value: '', quality: 'bad', latency: '', error })) };
  }
  const rows: Row[] = [];
  try {
    const started = performance.now();
    let readings: Reading[];
    try {
      readings = await driver.read({ key: 'probe', interval: device.poll_interval, tags: device.tags }, signal);
    } catch (err) {
      readings = device.tags.map((t) => ({ tag: t.name, value: null, quality: 'bad', ts: Date.now(), error: errorText(err) }));
    }
    const latency = `${(performance.now() - started).toFixed(1)} ms`;
    const byName = new Map(readings.map((r) => [r.tag, r]));
    for (const tag of device.tags) {
      const r = byName.get(tag.name);
      rows.push({
        device: device.name, tag: tag.name, address: address(tag),
        value: r ? showValue(r.value) : '', quality: r?.quality ?? 'bad', latency, error: r?.error ?? (r ? '' : 'no reading'),
      });
    }
  } finally {
    await driver.close().catch(() => {});
  }
  return { rows };
}

function showValue(v: Reading['value']): string {
  if (v === null) return '';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return JSON.stringify(v);
  return String(v);
}
