/**
 * The port vanishing and coming back: socat's pty pair is killed (both links disappear, as a USB
 * adapter's device node does when unplugged) and a new pair is started on the same paths.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SerialDriver } from '../driver.js';
import { serial } from '../index.js';
import { startSerialSim, type SerialSim } from '../sim.js';
import type { SerialDevice } from '../schema.js';
import type { Reading } from '../../../src/driver/contract.js';
import { Metrics } from '../../../src/metrics.js';
import { DeviceRunner } from '../../../src/scheduler/device-runner.js';
import { collector, group, never, PtyLab, serialDevice, stag, testContext, until } from './helpers.js';

let lab: PtyLab;
beforeEach(() => { lab = new PtyLab(); });
afterEach(async () => { await lab.cleanup(); });

/** A pty pair with a simulated scale on its peer end. */
function plugIn(opts: { request?: string; weight: number; intervalMs?: number }): Promise<{ unplug: () => Promise<void>; sim: SerialSim }> {
  return lab.plugInWith((peer) => startSerialSim({ path: peer, intervalMs: 50, ...opts }));
}

/** A listen-only driver on lab.dev that reopens quickly, subscribed to `weight`, once the scale's first line (weight 1) is in. */
async function listen(device: SerialDevice, ctx = testContext()): Promise<ReturnType<typeof collector>> {
  const d = new SerialDriver(device, ctx, { reopenMinMs: 100, reopenMaxMs: 300 });
  lab.defer(() => d.close());
  await d.connect(never);
  const got = collector();
  await d.subscribe([stag({ name: 'weight' })], got.emit);
  await until(() => got.readings.some((r) => r.value === 1), 5000, 'a reading before the unplug');
  return got;
}

describe('the port vanishes and comes back', () => {
  it('listen-only: the tags go bad with the reason, and the driver reopens the path by itself', async () => {
    const first = await plugIn({ weight: 1 });
    const ctx = testContext();
    const got = await listen(serialDevice(lab.dev), ctx);

    await first.unplug();
    await until(() => got.readings.some((r) => r.quality === 'bad'), 5000, 'a bad reading');
    const bad = got.readings.find((r) => r.quality === 'bad')!;
    expect(bad).toMatchObject({ tag: 'weight', value: null, error: `serial port ${lab.dev} disconnected (unplugged?)` });
    // Still gone after a few attempts: no reading pretends otherwise.
    await new Promise((r) => setTimeout(r, 500));
    expect(got.readings.filter((r) => r.quality === 'good' && r.ts > bad.ts)).toEqual([]);

    await plugIn({ weight: 2 });
    await until(() => got.readings.some((r) => r.value === 2 && r.quality === 'good'), 5000, 'a reading after the replug');
    const messages = ctx.logs.map((l) => l.msg);
    expect(messages).toContain('serial port lost');
    expect(messages).toContain('serial port reopened');
  });

  it('listen-only with stale_after: while the port is gone the loss is the reason, not a silence; the watch resumes after the replug', async () => {
    const first = await plugIn({ weight: 1 });
    const got = await listen(serialDevice(lab.dev, { stale_after: 300 }));

    await first.unplug();
    await new Promise((r) => setTimeout(r, 900));
    const bad = got.readings.filter((r) => r.quality === 'bad');
    expect(bad[0].error).toBe(`serial port ${lab.dev} disconnected (unplugged?)`);
    expect(bad.filter((r) => r.error!.includes('stale_after'))).toEqual([]);

    const second = await plugIn({ weight: 2 });
    await until(() => got.readings.some((r) => r.value === 2), 5000, 'a reading after the replug');
    await second.unplug();
    await plugIn({ weight: 3, intervalMs: 3_600_000 });
    // Reopened on a scale that never prints: stale after 300 ms.
    await until(() => got.readings.at(-1)?.error === 'no matching line for 300 ms (stale_after)', 5000, 'the stale reading');
  });

  it('request/answer: read() rejects on loss, connect() fails while the path is gone and succeeds once it is back', async () => {
    const first = await plugIn({ request: 'SI\r\n', weight: 1 });
    const d = new SerialDriver(serialDevice(lab.dev, { request: 'SI\r\n' }), testContext());
    lab.defer(() => d.close());
    const weight = stag({ name: 'weight' });
    await d.connect(never);
    expect(await d.read(group([weight]), never)).toEqual([expect.objectContaining({ value: 1, quality: 'good' })]);

    await first.unplug();
    await expect(d.read(group([weight]), never)).rejects.toThrow(`serial port ${lab.dev} disconnected (unplugged?)`);
    await d.close();
    await expect(d.connect(never)).rejects.toThrow(/not found \(unplugged/);

    await plugIn({ request: 'SI\r\n', weight: 2 });
    await d.connect(never);
    expect(await d.read(group([weight]), never)).toEqual([expect.objectContaining({ value: 2, quality: 'good' })]);
  });

  function startRunner(device: SerialDevice): { runner: DeviceRunner; published: Reading[] } {
    const published: Reading[] = [];
    const runner = new DeviceRunner({
      device, module: serial, log: pino({ level: 'silent' }), metrics: new Metrics(false), dataDir: lab.dir,
      emit: (_device, readings) => published.push(...readings), reconnectMinMs: 100, reconnectMaxMs: 400,
    });
    runner.start();
    lab.defer(() => runner.stop());
    return { runner, published };
  }

  it('listen-only under the scheduler: the device goes down and comes back up by itself', async () => {
    const first = await plugIn({ weight: 1 });
    const { runner, published } = startRunner(serialDevice(lab.dev));
    await until(() => published.some((r) => r.value === 1), 5000, 'a pushed reading');
    expect(runner.status().up).toBe(true);

    await first.unplug();
    await until(() => !runner.status().up, 5000, 'the device down');
    expect(runner.status().error).toBe(`serial port ${lab.dev} disconnected (unplugged?)`);

    await plugIn({ weight: 2 });
    // The driver's own reopen (default backoff, 1 s to 5 s) brings it back.
    await until(() => published.some((r) => r.value === 2), 10_000, 'a reading after the replug');
    expect(runner.status()).toMatchObject({ up: true, error: null });
    expect(published.filter((r) => r.quality === 'bad')).toHaveLength(1);
  });

  it('request/answer under the scheduler: bad once on loss, good again after the replug, no crash', async () => {
    const first = await plugIn({ request: 'SI\r\n', weight: 1 });
    const { runner, published } = startRunner(
      serialDevice(lab.dev, { request: 'SI\r\n', poll_interval: 100, tags: [stag({ name: 'weight', poll_interval: 100 })] }),
    );
    await until(() => published.some((r) => r.value === 1), 5000, 'a polled reading');

    await first.unplug();
    await until(() => published.some((r) => r.quality === 'bad'), 5000, 'the loss published');
    expect(runner.status().up).toBe(false);
    expect(published.find((r) => r.quality === 'bad')?.error).toMatch(/disconnected \(unplugged\?\)|not found/);

    await plugIn({ request: 'SI\r\n', weight: 2 });
    await until(() => published.some((r) => r.value === 2), 8000, 'a reading after the replug');
    expect(runner.status()).toMatchObject({ up: true, error: null });
    // Report by exception: the bad state went out once, not once per failed reconnect.
    expect(published.filter((r) => r.quality === 'bad')).toHaveLength(1);
  });
});
