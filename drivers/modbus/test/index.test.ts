/**
 * The registration: the README's sample device validates and plans as the README says, and
 * create() builds a working driver.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readmeSamples } from '../../../test/helpers/readme-samples.js';
import type { ModbusTcpDevice } from '../schema.js';
import { modbusRtu, modbusTcp } from '../index.js';
import { startModbusSim } from '../sim.js';
import { group, mtag, never, tcpDevice, testContext } from './helpers.js';

const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const block = (lang: string) => new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme)![1];

describe('drivers/modbus/README.md', () => {
  it('has a sample device that validates, and the plan it prints is the real one', () => {
    const { devices } = readmeSamples('modbus')[0];
    expect(devices).toHaveLength(1);
    const device = devices[0] as ModbusTcpDevice;
    expect(device.tags).toHaveLength(9);
    expect(device.tags.find((t) => t.name === 'cycle_count')?.byte_order).toBe('CDAB');
    expect(modbusTcp.plan!(device).map((l) => l.text)).toEqual(block('text').trim().split('\n'));
  });
});

describe('registration', () => {
  it('names where each tag lives, for probe', () => {
    expect([
      mtag({ area: 'holding', address: 100 }),
      mtag({ area: 'holding', address: 20, type: 'float64' }),
      mtag({ area: 'holding', address: 5, type: 'bool', bit: 3 }),
      mtag({ area: 'coil', address: 0 }),
    ].map((t) => modbusTcp.address!(t))).toEqual(['holding 100', 'holding 20..23', 'holding 5 bit 3', 'coil 0']);
    expect(modbusRtu.plan).toBe(modbusTcp.plan);
  });

  it('create() loads the driver lazily and it reads', async () => {
    const sim = await startModbusSim({ map: { tags: [{ area: 'holding', address: 3, type: 'int32', value: -42 }] } });
    const tags = [mtag({ name: 'x', area: 'holding', address: 3, type: 'int32' })];
    const ctx = testContext();
    const driver = await modbusTcp.create(tcpDevice(sim.port, tags), ctx);
    try {
      await driver.connect(never);
      expect(await driver.read(group(tags), never)).toMatchObject([{ tag: 'x', value: -42, quality: 'good' }]);
      expect(ctx.requests).toBe(1);
    } finally {
      await driver.close();
      await sim.close();
    }
  });
});
