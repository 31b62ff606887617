import { describe, expect, test } from 'vitest';
import { formatProblem } from '../../src/config/load.js';
import { loadFloorgateConfigText } from '../../src/assembly.js';

const config = (mqttLines: string) => loadFloorgateConfigText(
  `gateway:\n  id: gw1\nmqtt:\n  url: mqtt://127.0.0.1:1883\n${mqttLines}devices: []\n`, 'c.yaml', {});

const problems = (mqttLines: string): string[] => {
  const result = config(mqttLines);
  return result.ok ? [] : result.problems.map(formatProblem);
};

describe('mqtt.json_layout', () => {
  test('defaults to readings, the layout consumers already parse', () => {
    const result = config('');
    expect(result.ok && result.config.mqtt.json_layout).toBe('readings');
  });

  test('compact and readings are taken as written', () => {
    for (const layout of ['compact', 'readings'] as const) {
      const result = config(`  json_layout: ${layout}\n`);
      expect(result.ok && result.config.mqtt.json_layout).toBe(layout);
    }
  });

  test('an unknown layout is refused at its key, naming the two', () => {
    expect(problems('  json_layout: compressed\n')).toEqual([
      expect.stringMatching(/^c\.yaml:5:16: mqtt\.json_layout: .*readings.*compact/),
    ]);
  });

  test('compact with publish per_tag is refused: it has nothing to group', () => {
    expect(problems('  publish: per_tag\n  json_layout: compact\n')).toEqual([
      expect.stringMatching(/^c\.yaml:6:16: mqtt\.json_layout: .*per_device/),
    ]);
  });

  test('compact with format sparkplug_b is refused: Sparkplug has its own payload', () => {
    expect(problems('  format: sparkplug_b\n  sparkplug: { group_id: g }\n  json_layout: compact\n')).toEqual([
      expect.stringMatching(/^c\.yaml:\d+:\d+: mqtt\.json_layout: .*format json/),
    ]);
  });
});
