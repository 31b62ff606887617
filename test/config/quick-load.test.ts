/**
 * The loader with the drivers' quick parses gives the very config it gives without them (every
 * device through its zod schema): the shipped configs, a bench config of many tags, and
 * mutations of them the quick parse must decline (the problems are then the schema's).
 */
import { describe, expect, test } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { loadContext } from '../../src/assembly.js';
import { loadConfigText, type LoadContext } from '../../src/config/load.js';
import { ROOT } from '../helpers/gateway.js';

const schemasOnly: LoadContext = {
  ...loadContext,
  drivers: { names: () => loadContext.drivers.names(), schemaOf: (driver) => loadContext.drivers.schemaOf(driver) },
};

const ENV = { MQTT_PASSWORD: 'p' };

function benchConfig(tags: number): string {
  const lines = ['gateway: { id: g, data_dir: /tmp/g }', 'mqtt: { url: "mqtt://127.0.0.1:1883" }', 'devices:'];
  for (const d of [0, 1]) {
    lines.push(`  - name: plc${d}`, '    driver: modbus_tcp', '    host: 127.0.0.1', '    port: 5020', '    poll_interval: 1s', '    heartbeat: 1m', '    deadband: 0.5', '    tags:');
    lines.push('      - { name: status, area: coil, address: 0, type: bool, writable: true }');
    for (let t = 0; t < tags; t++) lines.push(`      - { name: t${t}, area: holding, address: ${t * 2}, type: float32${t % 7 === 0 ? ', byte_order: CDAB, scale: 0.1' : ''} }`);
  }
  return lines.join('\n') + '\n';
}

/** JSON with undefined spelled out: values, keys and their order. */
const exactly = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (v === undefined ? '<undefined>' : v));

function expectSameWithAndWithoutQuickParse(text: string): void {
  const quick = loadConfigText(text, '/etc/floorgate/floorgate.yaml', loadContext, ENV);
  const zod = loadConfigText(text, '/etc/floorgate/floorgate.yaml', schemasOnly, ENV);
  expect(exactly(quick)).toBe(exactly(zod));
}

describe('quick parse = every device through its schema', () => {
  const shipped = ['config/floorgate.example.yaml', 'config/demo.yaml'].map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8'));

  test.each(['floorgate.example.yaml', 'demo.yaml'])('shipped %s', (name) => {
    expectSameWithAndWithoutQuickParse(shipped[name === 'demo.yaml' ? 1 : 0]);
  });

  test('a bench config: device defaults on every tag, a writable coil, byte orders, scales', () => {
    const text = benchConfig(500);
    const result = loadConfigText(text, '/etc/floorgate/floorgate.yaml', loadContext, ENV);
    expect(result.ok).toBe(true);
    expectSameWithAndWithoutQuickParse(text);
  });

  test.each([
    ['a number as text', 'address: 20,', 'address: "20",'],
    ['an unknown key', 'type: float32 }', 'type: float32, colour: red }'],
    ['a rule across keys', 'area: coil, address: 0, type: bool', 'area: coil, address: 0, type: int16'],
    ['a width past max_registers_per_read', 'port: 5020', 'port: 5020\n    max_registers_per_read: 1'],
    ['a duplicate tag name', 'name: t3,', 'name: t2,'],
  ])('%s: declined, the same problems', (_name, from, to) => {
    const text = benchConfig(20).replace(from, to);
    expect(text).not.toBe(benchConfig(20));
    const result = loadConfigText(text, '/etc/floorgate/floorgate.yaml', loadContext, ENV);
    expect(result.ok).toBe(from === 'address: 20,');
    expectSameWithAndWithoutQuickParse(text);
  });
});
