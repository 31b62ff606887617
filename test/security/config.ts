/** Config files for the security tests, written to a temp dir, and what a run printed. */
import fs from 'node:fs';
import path from 'node:path';
import type { CliProcess } from '../helpers/gateway.js';

export interface ConfigOptions {
  readonly url: string;
  /** Further YAML lines under mqtt:, without indentation. */
  readonly mqtt?: readonly string[];
  readonly log?: 'info' | 'debug' | 'trace';
  /** http.listen; default off. */
  readonly listen?: string;
  /** The YAML of the devices list; default none. */
  readonly devices?: string;
  /** Default data. */
  readonly dataDir?: string;
}

export function writeConfig(dir: string, o: ConfigOptions, name = 'floorgate.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, [
    'gateway:',
    '  id: sec-gw',
    `  data_dir: ${o.dataDir ?? path.join(dir, 'data')}`,
    'log:',
    `  level: ${o.log ?? 'info'}`,
    'mqtt:',
    `  url: ${JSON.stringify(o.url)}`,
    '  keepalive: 2s',
    '  reconnect_min: 200ms',
    '  reconnect_max: 500ms',
    ...(o.mqtt ?? []).map((l) => `  ${l}`),
    'http:',
    `  listen: ${o.listen ?? 'false'}`,
    `devices:${o.devices ? `\n${o.devices}` : ' []'}`,
    '',
  ].join('\n'));
  return file;
}

/** Everything the process wrote, both streams. */
export const printed = (p: CliProcess): string => `${p.stdout.join('\n')}\n${p.stderr.join('\n')}`;

/** The parsed JSON log lines of a run. */
export function logLines(p: CliProcess): { level: number; msg: string; [k: string]: unknown }[] {
  return p.stdout.flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}
