/**
 * One read of every tag of a device outside the schedule (`floorgate probe`): create, connect,
 * read all tags as one group (push tags included), close. Never throws for a device's failure:
 * an unreachable device or a lost connection comes back as the reason, in words.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DeviceConfig, DriverModule, Reading } from '../driver/contract.js';
import { errorText } from '../error-text.js';

export type OneRead =
  | { readonly ok: true; readonly readings: readonly Reading[]; readonly latencyMs: number }
  | { readonly ok: false; readonly error: string };

/** The whole attempt's limit: a few request timeouts, and never under 5 s (OPC UA sessions take a while). */
const attemptMs = (device: DeviceConfig) => Math.max(device.timeout * 3, 5000);

export async function readOnce(device: DeviceConfig, module: DriverModule, opts: { log: Logger; dataDir: string }): Promise<OneRead> {
  const signal = AbortSignal.timeout(attemptMs(device));
  let driver;
  try {
    driver = await module.create(device, { log: opts.log.child({ device: device.name }), dataDir: opts.dataDir, countRequest: () => {} });
    await driver.connect(signal);
  } catch (err) {
    await driver?.close().catch(() => {});
    return { ok: false, error: `unreachable: ${errorText(err)}` };
  }
  try {
    const started = performance.now();
    let readings: Reading[];
    try {
      readings = await driver.read({ key: 'once', interval: device.poll_interval, tags: device.tags }, signal);
    } catch (err) {
      const ts = Date.now();
      readings = device.tags.map((t) => ({ tag: t.name, value: null, quality: 'bad', ts, error: errorText(err) }));
    }
    return { ok: true, readings, latencyMs: performance.now() - started };
  } finally {
    await driver.close().catch(() => {});
  }
}
