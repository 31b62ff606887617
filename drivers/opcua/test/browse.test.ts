/**
 * `floorgate browse` against the simulator (through a real config file and the config loader)
 * and the simulator's registration for `floorgate sim opcua`. The README's sample device is
 * loaded with every other driver's in test/registry/readme.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startOpcuaSim, type RunningOpcuaSim } from '../sim.js';
import { drivers } from '../../../src/assembly.js';
import { runBrowse } from '../../../src/cli/browse.js';
import { tempDir } from './helpers.js';

const dir = tempDir('browse');
let sim: RunningOpcuaSim;

beforeAll(async () => {
  sim = await startOpcuaSim({ pkiDir: `${dir}/server` });
});

afterAll(async () => {
  await sim?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function configFile(extra = ''): string {
  const file = path.join(dir, 'floorgate.yaml');
  fs.writeFileSync(file, `
gateway: { id: gw1, data_dir: ${dir}/data }
mqtt: { url: "mqtt://127.0.0.1:1" }
devices:
  - name: oven
    driver: opcua
    endpoint: ${sim.endpoint}
    security_mode: SignAndEncrypt
    trust_on_first_use: true
    username: operator
    password: secret
    tags:
      - { name: zone1, node_id: "ns=1;s=Oven.Zone1.Temperature" }
${extra}`);
  return file;
}

async function browse(opts: { device: string; node?: string }, file = configFile()) {
  const lines: string[] = [];
  const code = await runBrowse(file, { ...opts, out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { code, text: lines.join('\n') };
}

describe('floorgate browse', () => {
  test('lists the tree below the Objects folder with classes, data types and values', async () => {
    const { code, text } = await browse({ device: 'oven' });
    expect(code, text).toBe(0);
    const row = (id: string) => text.split('\n').find((l) => l.startsWith(id + ' '));
    expect(row('ns=1;s=Oven')).toMatch(/^ns=1;s=Oven\s+Oven\s+Object/);
    expect(row('ns=1;s=Oven.Zone1.Temperature')).toMatch(/\s{4}Temperature\s+Variable\s+Double\s+\d+(\.\d+)?$/);
    expect(row('ns=1;s=Oven.BatchId')).toMatch(/BatchId\s+Variable\s+String\s+"B-1042"$/);
    expect(row('ns=1;s=Oven.EnergyWh')).toMatch(/Int64\s+9007199254740993$/);
    expect(row('ns=1;s=Oven.Setpoints')).toMatch(/Double\s+\[180,200,220\]$/);
    expect(row('ns=0;i=2253')).toMatch(/Server\s+Object\s+\(not expanded: browse --node ns=0;i=2253\)/);
    expect(text).toMatch(/\d+ nodes below the Objects folder/);
  });

  test('--node starts lower in the tree', async () => {
    const { code, text } = await browse({ device: 'oven', node: 'ns=1;s=Oven.Fan' });
    expect(code, text).toBe(0);
    expect(text).toMatch(/ns=1;s=Oven\.Fan\.Speed\s+Speed\s+Variable\s+Int16/);
    expect(text).not.toMatch(/Zone1/);
  });

  test('an unknown device is a usage error naming the OPC UA devices; an unreachable one exits 1', async () => {
    expect(await browse({ device: 'press' })).toEqual({ code: 64, text: expect.stringMatching(/no browsable device named "press".*browsable devices: oven/) });
    const file = configFile(`  - name: gone
    driver: opcua
    endpoint: opc.tcp://127.0.0.1:1
    tags: [{ name: x, node_id: "i=2258" }]
`);
    const { code, text } = await browse({ device: 'gone' }, file);
    expect(code).toBe(1);
    expect(text).toMatch(/^gone: .*ECONNREFUSED/);
  });
});

describe('opcua simulator registration', () => {
  test('`floorgate sim opcua` starts the simulator on a free port and stops it', async () => {
    const running = await drivers.networkSimulator('opcua')!.start({ host: '127.0.0.1', port: 0 });
    try {
      expect(running.port).toBeGreaterThan(0);
      expect(running.port).not.toBe(sim.port);
    } finally {
      await running.close();
    }
  });
});
