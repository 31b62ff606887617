/**
 * `floorgate check -c FILE [--plan]`: validate the config, print every problem as
 * FILE:LINE:COL: path: message, and with --plan the requests each device will send per cycle
 * and what the devices sharing a line ask of it. A line that cannot keep its schedule is a
 * warning, with or without --plan, and not an error: the config is valid, it will just overrun.
 */
import { refuseConfig } from './config-refused.js';
import type { LineLoad } from '../driver/contract.js';
import { drivers, loadFloorgateConfig } from '../assembly.js';
import { errorText } from '../error-text.js';
import { EXIT } from './exit.js';

export async function runCheck(file: string, opts: { plan: boolean; out: (line: string) => void }): Promise<number> {
  const { out } = opts;
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) return refuseConfig(loaded, out);
  const { devices } = loaded.config;
  const tags = devices.reduce((n, d) => n + d.tags.length, 0);
  out(`${file}: OK: ${count(devices.length, 'device')}, ${count(tags, 'tag')}`);

  let code: number = EXIT.ok;
  // A planner bug is a runtime failure, not a config error; still no stack trace.
  const planned = <T>(what: () => T, fallback: T, indent: string): T => {
    try {
      return what();
    } catch (err) {
      out(`${indent}(planning failed: ${errorText(err)})`);
      code = EXIT.failure;
      return fallback;
    }
  };
  if (opts.plan) {
    for (const device of devices) {
      out(`${device.name} (${device.driver}):`);
      const module = drivers.of(device);
      if (module?.plan === undefined) {
        out(`  (no plan available for driver ${device.driver})`);
        continue;
      }
      for (const line of planned(() => module.plan!(device), [], '  ')) out(`  ${line.text}`);
    }
  }
  for (const line of planned(() => drivers.lineLoads(devices), [], '')) {
    const indent = opts.plan ? '  ' : '';
    if (opts.plan) {
      out(`${line.title}: ${line.devices.join(', ')}:`);
      for (const cycle of line.plan) out(`  ${cycle.text}`);
      out(`  load: ${percent(line.load)} of the line's time`);
    }
    if (line.load > 1) out(`${indent}${overloaded(line)}`);
  }
  return code;
}

function overloaded(line: LineLoad): string {
  return `warning: ${line.title}: the polls need ${percent(line.load)} of its time; they cannot all be kept and will overrun ` +
    '(floorgate_poll_overruns_total): poll less often, read less, or use a faster line';
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)} %`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
