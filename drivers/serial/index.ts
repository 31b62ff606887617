import type { DriverModule, PlanLine } from '../../src/driver/contract.js';
import { lineSettings } from '../../src/serial/line-settings.js';
import { escapeText } from './escape.js';
import { serialDeviceSchema, type SerialDevice } from './schema.js';

/** `floorgate check --plan`: what goes on the line each cycle, or that the device is only listened to. */
function planLines(device: SerialDevice): PlanLine[] {
  const on = `${device.port} (${lineSettings(device)})`;
  const split = `lines split on ${escapeText(device.delimiter)}`;
  if (device.request === undefined) {
    const stale = device.stale_after === undefined ? '' : `, bad after ${device.stale_after}ms without one`;
    return [{ text: `listen on ${on}, ${split}, every matching line -> ${device.tags.map((t) => t.name).join(', ')}${stale}` }];
  }
  const intervals = [...new Set(device.tags.map((t) => t.poll_interval))].sort((a, b) => a - b);
  return intervals.map((interval) => ({
    text: `every ${interval}ms: write ${escapeText(device.request!)} on ${on}, ${split}, first matching line within ` +
      `${device.timeout}ms -> ${device.tags.filter((t) => t.poll_interval === interval).map((t) => t.name).join(', ')}`,
  }));
}

export const serial: DriverModule<SerialDevice> = {
  name: 'serial',
  schema: serialDeviceSchema,
  isPushTag: (device) => device.request === undefined,
  async create(device, ctx) {
    // serialport's native binding loads only when a serial device is configured.
    const { SerialDriver } = await import('./driver.js');
    return new SerialDriver(device, ctx);
  },
  address: (tag) => `group ${tag.group}`,
  plan: planLines,
  lineSimulator: {
    name: 'serial',
    async start(opts) {
      const sim = await (await import('./sim.js')).startSerialSim({ path: opts.path, baudRate: opts.baudRate });
      return { where: opts.path, requests: () => sim.linesSent(), close: () => sim.close() };
    },
  },
};
