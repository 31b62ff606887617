/**
 * The adapter unplugged and plugged back: socat's pty pair is killed (both paths vanish, as a
 * USB adapter's device node does) and a new pair is started on the same paths.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { group, mtag, never } from './helpers.js';
import { RtuLab, rtuDevice, until } from './rtu-helpers.js';

let lab: RtuLab;
beforeEach(() => { lab = new RtuLab(); });
afterEach(async () => { await lab.cleanup(); });

const map = (value: number) => ({ tags: [{ area: 'holding' as const, address: 0, value }] });
const tags = [mtag({ name: 'x', area: 'holding', address: 0, poll_interval: 100 })];

describe('the port vanishes and comes back', () => {
  it('every device on the line fails its read, cannot reconnect while the path is gone, and reads again after the replug', async () => {
    const first = await lab.plugIn({ units: [1, 2], map: map(1) });
    const devices = [1, 2].map((unit_id) => rtuDevice(lab.dev, tags, { unit_id }));
    const drivers = await Promise.all(devices.map((d) => lab.driver(d)));
    for (const { driver } of drivers) expect((await driver.read(group(tags), never))[0].value).toBe(1);

    await first.unplug();
    for (const { driver } of drivers) {
      await expect(driver.read(group(tags), never)).rejects.toThrow(`serial port ${lab.dev} disconnected (unplugged?)`);
      await driver.close();
      await expect(driver.connect(never)).rejects.toThrow(`cannot open serial port ${lab.dev}: not found (unplugged`);
    }

    await lab.plugIn({ units: [1, 2], map: map(2) });
    for (const { driver } of drivers) {
      await driver.connect(never);
      expect((await driver.read(group(tags), never))[0]).toMatchObject({ value: 2, quality: 'good' });
    }
  });

  it('under the scheduler: both devices go down once and come back by themselves', async () => {
    const first = await lab.plugIn({ units: [1, 2], map: map(1) });
    const runs = [1, 2].map((unit_id) => lab.runner(rtuDevice(lab.dev, tags, { name: `u${unit_id}`, unit_id, poll_interval: 100 })));
    await until(() => runs.every(({ published }) => published.some((r) => r.value === 1)), 5000, 'readings before the unplug');

    await first.unplug();
    await until(() => runs.every(({ runner }) => !runner.status().up), 5000, 'both devices down');
    for (const { runner } of runs) expect(runner.status().error).toMatch(/disconnected \(unplugged\?\)|not found \(unplugged/);

    await lab.plugIn({ units: [1, 2], map: map(2) });
    await until(() => runs.every(({ published }) => published.some((r) => r.value === 2)), 8000, 'readings after the replug');
    for (const { runner, published } of runs) {
      expect(runner.status()).toMatchObject({ up: true, error: null });
      // Report by exception: the outage went out once per device, not once per failed reconnect.
      expect(published.filter((r) => r.quality === 'bad')).toHaveLength(1);
    }
  });
});
