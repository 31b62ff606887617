/**
 * `floorgate probe`: commissioning. Connects to each device, reads every tag once (push tags
 * included), prints one row per tag, publishes nothing. Exit 1 when a device is unreachable:
 * no connection, or a connection on which not one tag could be read (a wrong unit id behind a
 * gateway, another master holding the only connection), which gets its driver's hint.
 */
import { refuseConfig } from './config-refused.js';
import { drivers, loadFloorgateConfig } from '../assembly.js';
import { createLogger, type Logger } from '../log.js';
import type { DeviceConfig, Reading, TagCommon } from '../driver/contract.js';
import { readOnce } from '../scheduler/read-once.js';
import { formatTable } from './table.js';
import { EXIT } from './exit.js';

interface Row {
  device: string; tag: string; address: string; value: string; quality: string; latency: string; error: string;
}

export async function runProbe(file: string, opts: { device?: string; out: (line: string) => void; err: (line: string) => void }): Promise<number> {
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) return refuseConfig(loaded, opts.err);
  const devices = loaded.config.devices.filter((d) => !opts.device || d.name === opts.device);
  if (devices.length === 0) {
    opts.err(opts.device ? `no device named "${opts.device}" in ${file}` : `no devices in ${file}`);
    return EXIT.usage;
  }
  // Drivers log at warn and above only: the table is the output.
  const log = createLogger('warn');
  const rows: Row[] = [];
  const hints: string[] = [];
  let unreachable = 0;
  for (const device of devices) {
    const result = await probeDevice(device, loaded.config.gateway.data_dir, log);
    const noneRead = result.rows.length > 0 && result.rows.every((r) => r.quality === 'bad');
    if (result.error || noneRead) unreachable++;
    if (!result.error && noneRead) {
      const hint = drivers.of(device).noReadingHint?.(device);
      hints.push(`${device.name}: connected, but no tag could be read${hint ? `; ${hint}` : ''}`);
    }
    rows.push(...result.rows);
  }
  opts.out(formatTable(rows, ['device', 'tag', 'address', 'value', 'quality', 'latency', 'error']));
  for (const hint of hints) opts.out(hint);
  opts.out(`${devices.length - unreachable} of ${devices.length} devices reachable`);
  return unreachable > 0 ? EXIT.failure : EXIT.ok;
}

async function probeDevice(device: DeviceConfig, dataDir: string, log: Logger): Promise<{ rows: Row[]; error?: string }> {
  const module = drivers.of(device);
  const address = (tag: TagCommon) => module.address?.(tag) ?? '';
  const result = await readOnce(device, module, { log, dataDir });
  if (!result.ok) {
    const { error } = result;
    return { error, rows: device.tags.map((t) => ({ device: device.name, tag: t.name, address: address(t), value: '', quality: 'bad', latency: '', error })) };
  }
  const latency = `${result.latencyMs.toFixed(1)} ms`;
  const byName = new Map(result.readings.map((r) => [r.tag, r]));
  return {
    rows: device.tags.map((tag) => {
      const r = byName.get(tag.name);
      return {
        device: device.name, tag: tag.name, address: address(tag),
        value: r ? showValue(r.value) : '', quality: r?.quality ?? 'bad', latency, error: r?.error ?? (r ? '' : 'no reading'),
      };
    }),
  };
}

function showValue(v: Reading['value']): string {
  if (v === null) return '';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return JSON.stringify(v);
  return String(v);
}
