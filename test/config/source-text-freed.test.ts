/**
 * A loaded config keeps none of its YAML text alive. The readers' strings are slices of the text:
 * one tag name kept for the life of the daemon would keep the whole file (0.7 MB at 10,000
 * tags). Judged by the heap after full GCs: a text of several MB is either held or not.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect, test } from 'vitest';
import { loadFloorgateConfigText } from '../../src/assembly.js';
import type { ModbusTcpDevice } from '../../drivers/modbus/schema.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

function configText(tags: number): string {
  const lines = ['gateway: { id: g, data_dir: /tmp/g }', 'mqtt: { url: "mqtt://127.0.0.1:1883" }', 'devices:', '  - name: plc_with_long_names',
    '    driver: modbus_tcp', '    host: 127.0.0.1', '    port: 5021', '    poll_interval: 1s', '    tags:'];
  for (let t = 0; t < tags; t++) lines.push(`      - { name: line_3_oven_zone_temperature_${t}, area: holding, address: ${t % 60_000}, type: uint16 }`);
  return lines.join('\n') + '\n';
}

/** Loads a config of several MB and keeps nothing of it but one tag name. */
function oneNameOfALargeConfig(): string {
  const text = configText(40_000);
  expect(text.length).toBeGreaterThan(3e6);
  const loaded = loadFloorgateConfigText(text, '/etc/floorgate/floorgate.yaml', {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems.slice(0, 3)));
  return (loaded.config.devices[0] as ModbusTcpDevice).tags[7].name;
}

test('a tag name kept after the load does not keep the config text', () => {
  const before = heapAfterGc();
  const kept = oneNameOfALargeConfig();
  const grown = heapAfterGc() - before;
  expect(kept).toBe('line_3_oven_zone_temperature_7');
  // Held, the text is > 3 MB on the heap; freed, what is left is one name and the loader's caches.
  expect(grown).toBeLessThan(1e6);
});
