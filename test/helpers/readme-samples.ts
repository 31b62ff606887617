/**
 * The sample devices of the drivers' READMEs (drivers/<protocol>/README.md), loaded as an
 * operator's config would be: each ```yaml block is a `devices:` list (or list items of one),
 * given a minimal gateway and mqtt section and passed through the real config loader.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFloorgateConfigText } from '../../src/assembly.js';
import { formatProblem } from '../../src/config/load.js';
import type { DeviceConfig } from '../../src/config/types.js';

const DRIVERS_DIR = fileURLToPath(new URL('../../drivers/', import.meta.url));

export interface ReadmeSample {
  /** drivers/<folder>/README.md */
  readonly readme: string;
  readonly devices: readonly DeviceConfig[];
}

/** Every README of drivers/, by folder name. */
export function driverReadmes(): Map<string, string> {
  const out = new Map<string, string>();
  for (const folder of fs.readdirSync(DRIVERS_DIR).sort()) {
    const file = path.join(DRIVERS_DIR, folder, 'README.md');
    if (fs.existsSync(file)) out.set(folder, file);
  }
  return out;
}

/** The ```yaml blocks of one README that hold devices, each loaded; throws with the loader's problems. */
export function readmeSamples(folder: string): ReadmeSample[] {
  return readmeSampleConfigs(folder).map(({ readme, text }) => ({ readme, devices: loadSample(text, readme) }));
}

/**
 * The ```yaml blocks of one README that hold devices, each as a whole config file: given a
 * minimal gateway and mqtt section, a password_file (not on this machine) as a password.
 */
export function readmeSampleConfigs(folder: string): { readme: string; text: string }[] {
  const readme = path.join(DRIVERS_DIR, folder, 'README.md');
  const blocks = [...fs.readFileSync(readme, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.filter((b) => /^\s*(?:-\s+)?driver:/m.test(b)).map((block) => {
    const yaml = block.replace(/^(\s*)password_file:.*$/gm, '$1password: from-the-file');
    const devices = yaml.startsWith('devices:') ? yaml : `devices:\n${yaml.replace(/^/gm, '  ')}`;
    return { readme, text: `gateway:\n  id: gw1\n  data_dir: /var/lib/floorgate\nmqtt:\n  url: mqtt://127.0.0.1:1883\n${devices}` };
  });
}

function loadSample(text: string, readme: string): DeviceConfig[] {
  const loaded = loadFloorgateConfigText(text, '/etc/floorgate/floorgate.yaml', {});
  if (!loaded.ok) throw new Error(`${readme}:\n${loaded.problems.map(formatProblem).join('\n')}`);
  return [...loaded.config.devices];
}
