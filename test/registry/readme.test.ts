/**
 * Every registered driver documents itself: its folder's README has sample devices that pass
 * the real config loader as written, and between them the READMEs cover every driver name
 * the registry knows. Protocol-specific expectations about a sample stay in the driver's tests.
 */
import { describe, expect, it } from 'vitest';
import { drivers } from '../../src/assembly.js';
import { driverReadmes, readmeSamples } from '../helpers/readme-samples.js';

describe('driver READMEs', () => {
  const readmes = driverReadmes();

  it('every protocol folder has a README', () => {
    expect([...readmes.keys()]).toEqual(['modbus', 'opcua', 'serial']);
  });

  for (const folder of readmes.keys()) {
    it(`drivers/${folder}/README.md: every sample device loads as written`, () => {
      const samples = readmeSamples(folder);
      expect(samples.length).toBeGreaterThan(0);
      for (const { devices } of samples) expect(devices.length).toBeGreaterThan(0);
    });
  }

  it('every registered driver has a sample device in some README, and plans it without error', () => {
    const documented = new Set<string>();
    for (const folder of readmes.keys()) {
      for (const { devices } of readmeSamples(folder)) {
        for (const device of devices) {
          documented.add(device.driver);
          const module = drivers.of(device);
          if (module.plan) expect(module.plan(device).length).toBeGreaterThan(0);
          if (module.address) for (const tag of device.tags) expect(module.address(tag)).not.toBe('');
        }
      }
    }
    expect([...documented].sort()).toEqual(drivers.names().sort());
  });
});
