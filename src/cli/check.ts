/**
 * `floorgate check -c FILE [--plan]`: validate the config, print every problem as
 * FILE:LINE:COL: path: message, and with --plan the requests each device will send per cycle.
 */
import { formatProblem } from '../config/load.js';
import { drivers, loadFloorgateConfig } from '../assembly.js';
import { errorText } from '../error-text.js';
import { EXIT } from './exit.js';

export async function runCheck(file: string, opts: { plan: boolean; out: (line: string) => void }): Promise<number> {
  const { out } = opts;
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) {
    for (const problem of loaded.problems) out(formatProblem(problem));
    return EXIT.config;
  }
  const { devices } = loaded.config;
  const tags = devices.reduce((n, d) => n + d.tags.length, 0);
  out(`${file}: OK: ${count(devices.length, 'device')}, ${count(tags, 'tag')}`);
  if (!opts.plan) return EXIT.ok;

  let code: number = EXIT.ok;
  for (const device of devices) {
    out(`${device.name} (${device.driver}):`);
    const module = drivers.of(device);
    if (module?.plan === undefined) {
      out(`  (no plan available for driver ${device.driver})`);
      continue;
    }
    try {
      for (const line of module.plan(device)) out(`  ${line.text}`);
    } catch (err) {
      // A planner bug is a runtime failure, not a config error; still no stack trace.
      out(`  (planning failed: ${errorText(err)})`);
      code = EXIT.failure;
    }
  }
  return code;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
