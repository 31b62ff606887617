/**
 * Registration of the opcua driver. node-opcua (~50 MB of RSS) is imported inside create(), so a
 * gateway without OPC UA devices never loads it.
 */
import type { DriverModule, PlanLine } from '../../src/driver/contract.js';
import { opcuaDeviceSchema, type OpcuaDevice, type OpcuaTag } from './schema.js';

export const opcua: DriverModule<OpcuaDevice> = {
  name: 'opcua',
  schema: opcuaDeviceSchema,
  isPushTag: (_device, tag) => tag.mode === 'subscribe',
  async create(device, ctx) {
    const { createOpcuaDriver } = await import('./driver.js');
    return createOpcuaDriver(device, ctx);
  },
  address: (tag) => tag.node_id,
  plan: planOf,
  async browse(device, opts) {
    return (await import('./browse.js')).browseDevice(device, opts);
  },
  simulator: {
    name: 'opcua',
    defaultPort: 4840,
    async start(opts) {
      const sim = await (await import('./sim.js')).startOpcuaSim({ host: opts.host, port: opts.port, config: opts.config });
      return { where: `${opts.host}:${sim.port}`, port: sim.port, requests: () => sim.requests(), close: () => sim.close() };
    },
  },
};

/** `floorgate check --plan`: the subscription's items, then one Read request per poll interval. */
function planOf(device: OpcuaDevice): PlanLine[] {
  const lines: PlanLine[] = [];
  const monitored = device.tags.filter((t) => t.mode === 'subscribe');
  if (monitored.length > 0) {
    const publishing = Math.max(50, Math.min(...monitored.map((t) => t.sampling_interval)));
    lines.push({ text: `subscription: publishing every ${publishing} ms, ${monitored.length} monitored item${monitored.length === 1 ? '' : 's'} (+ Server_ServerStatus_CurrentTime, the silence watchdog)` });
    for (const t of monitored) {
      const deadband = t.deadband !== undefined && t.deadband > 0 ? `, absolute deadband ${t.deadband}` : '';
      lines.push({ text: `  monitor ${t.node_id} (${t.name}): sampling ${t.sampling_interval} ms, queue ${t.queue_size}${deadband}` });
    }
  }
  const byInterval = new Map<number, OpcuaTag[]>();
  for (const t of device.tags.filter((tag) => tag.mode === 'poll')) byInterval.set(t.poll_interval, [...(byInterval.get(t.poll_interval) ?? []), t]);
  for (const [interval, tags] of [...byInterval].sort((a, b) => a[0] - b[0])) {
    lines.push({ text: `read every ${interval} ms: ${tags.length} node${tags.length === 1 ? '' : 's'} in one Read request (split at the server's MaxNodesPerRead)` });
    for (const t of tags) lines.push({ text: `  ${t.node_id} (${t.name})` });
  }
  return lines;
}
