import type { SerialDevice, SerialTag } from '../../src/config/types.js';
import type { DriverModule, PlanLine } from '../../src/driver.js';
import { lineSettings } from '../../src/serial/line-settings.js';
import { escapeText } from './escape.js';
import { serialDeviceSchema } from './schema.js';

/** `floorgate check --plan`: what goes on the line each cycle, or that the device is only listened to. */
function planLines(device: SerialDevice): PlanLine[] {
  const on = `${device.port} (${lineSettings(device)})`;
  const split = `lines split on ${escapeText(device.delimiter)}`;
  if (device.request === undefined) {
    return [{ text: `listen on ${on}, ${split}, every matching line -> ${device.tags.map((t) => t.name).join(', ')}` }];
  }
  const intervals = [...new Set(device.tags.map((t) => t.poll_interval))].sort((a, b) => a - b);
  return intervals.map((interval) => ({
    text: `every ${interval}ms: write ${escapeText(device.request!)} on ${on}, ${split}, first matching line within ` +
      `${device.timeout}ms -> ${device.tags.filter((t) => t.poll_interval === interval).map((t) => t.name).join(', ')}`,
  }));
}

export const serial: DriverModule = {
  name: 'serial',
  schema: serialDeviceSchema,
  isPushTag: (device) => (device as SerialDevice).request === undefined,
  async create(device, ctx) {
    // serialport's native binding loads only when a serial device is configured.
    const { SerialDriver } = await import('./driver.js');
    return new SerialDriver(device as SerialDevice, ctx);
  },
  address: (tag) => `group ${(tag as SerialTag).group}`,
  plan: (device) => planLines(device as SerialDevice),
};
