/** The RTU part of drivers/modbus/README.md: its sample devices validate and share one line. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ModbusRtuDevice } from '../schema.js';
import { modbusRtu } from '../index.js';
import { readmeSamples } from '../../../test/helpers/readme-samples.js';

const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const rtuPart = readme.slice(readme.indexOf('## Modbus RTU'));
const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(rtuPart)![1];

describe('drivers/modbus/README.md, Modbus RTU', () => {
  it('has two sample devices that validate and can share their line', () => {
    const devices = readmeSamples('modbus')[1].devices as ModbusRtuDevice[];
    expect(devices.map((d) => d.unit_id)).toEqual([1, 2]);
    const line = (d: ModbusRtuDevice) => [d.port, d.baud_rate, d.parity, d.data_bits, d.stop_bits];
    expect(line(devices[1])).toEqual(line(devices[0]));
    expect(devices[0].timeout).toBe(500);
    expect(modbusRtu.plan!(devices[0]).map((l) => l.text)).toEqual([
      'every 1000ms: holding 0..0 (1 register; 8 + 7 bytes, 12.6 ms on the line) -> speed_rpm',
      'every 1000ms: input 4..5 (2 registers; 8 + 9 bytes, 13.8 ms on the line) -> current_a',
      'every 1000ms: coil 0..0 (1 bit; 8 + 6 bytes, 12.0 ms on the line) -> running',
    ]);
  });

  it('refuses 7 data bits, which would be Modbus ASCII', () => {
    const device = { ...(parse(yamlBlock) as object[])[0], data_bits: 7 };
    const result = modbusRtu.schema.safeParse(device);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['data_bits', 'Modbus RTU needs 8 data bits (7 is Modbus ASCII, which floorgate does not speak)'],
    ]);
  });
});
