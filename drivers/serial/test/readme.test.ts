import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serial } from '../index.js';
import { scaleLine } from '../sim.js';
import { drivers } from '../../../src/assembly.js';
import type { SerialDevice } from '../schema.js';
import { readmeSamples } from '../../../test/helpers/readme-samples.js';

import { SCALE_PATTERN, serialDevice, stag } from './helpers.js';

const README = new URL('../README.md', import.meta.url);

/** The README's sample devices, one per ```yaml block, as the config loader hands them over. */
function loadReadmeDevices(): SerialDevice[] {
  return readmeSamples('serial').map((s) => s.devices[0] as SerialDevice);
}

describe('drivers/serial/README.md', () => {
  it('has sample devices that pass the config loader as written', () => {
    const [scale, filler, scanner] = loadReadmeDevices();
    expect(scale).toMatchObject({ driver: 'serial', delimiter: '\r\n', request: 'SI\r\n', baud_rate: 9600, parity: 'none' });
    expect(scale.tags.map((t) => [t.name, t.group, t.type])).toEqual([
      ['weight', 'weight', 'float64'], ['weight_g', 'weight', 'float64'], ['stable', 'status', 'string'],
    ]);
    expect(filler.stale_after).toBe(5000);
    expect(filler.request).toBeUndefined();
    expect(filler.tags.map((t) => [t.name, t.group])).toEqual([['Filler.Weight', 'weight']]);
    expect(scanner.delimiter).toBe('\r');
    expect(scanner.request).toBeUndefined();
  });

  it('documents a plan line that is what check --plan prints', () => {
    const [scale] = loadReadmeDevices();
    const text = fs.readFileSync(README, 'utf8');
    const planned = serial.plan!({ ...scale, port: '/dev/ttyUSB1', tags: [scale.tags[0]] })[0].text;
    expect(text).toContain(planned);
  });
});

describe('registration', () => {
  it('is found by name, pushes listen-only tags and polls with a request', () => {
    expect(drivers.get('serial')).toBe(serial);
    const tag = stag({ name: 'weight' });
    expect(serial.isPushTag!(serialDevice('/dev/x'), tag)).toBe(true);
    expect(serial.isPushTag!(serialDevice('/dev/x', { request: 'SI\r\n' }), tag)).toBe(false);
    expect(serial.address!(stag({ name: 'w', group: 'weight' }))).toBe('group weight');
  });

  it('plans one line per poll interval with a request, one listen line without', () => {
    const tags = [stag({ name: 'a', poll_interval: 500 }), stag({ name: 'b', group: 'a', poll_interval: 2000 })];
    const polled = serialDevice('/dev/ttyUSB1', { request: 'P\r\n', baud_rate: 2400, data_bits: 7, parity: 'even', tags });
    expect(serial.plan!(polled).map((l) => l.text)).toEqual([
      'every 500ms: write "P\\r\\n" on /dev/ttyUSB1 (2400 7E1), lines split on "\\r\\n", first matching line within 1000ms -> a',
      'every 2000ms: write "P\\r\\n" on /dev/ttyUSB1 (2400 7E1), lines split on "\\r\\n", first matching line within 1000ms -> b',
    ]);
    expect(serial.plan!(serialDevice('/dev/ttyUSB1', { tags })).map((l) => l.text)).toEqual([
      'listen on /dev/ttyUSB1 (9600 8N1), lines split on "\\r\\n", every matching line -> a, b',
    ]);
    expect(serial.plan!(serialDevice('/dev/ttyUSB1', { tags, stale_after: 5000 }))[0].text)
      .toBe('listen on /dev/ttyUSB1 (9600 8N1), lines split on "\\r\\n", every matching line -> a, b, bad after 5000ms without one');
  });

  it('the simulated scale prints what the reference pattern reads', () => {
    expect(scaleLine(12.345)).toBe('ST,GS,  12.345 kg');
    expect(new RegExp(SCALE_PATTERN).exec(scaleLine(-0.5))?.groups?.weight).toBe('-0.500');
  });
});
