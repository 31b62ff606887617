/**
 * `floorgate browse -c FILE --device NAME [--node ID]`: lists an OPC UA device's address space
 * (node id, browse name, node class, data type, value) so node ids can be copied into the config.
 * Exit 0 listed, 1 the device could not be reached, 64 no such OPC UA device, 78 bad config.
 */
import { loadConfig, formatProblem } from '../config/load.js';
import type { OpcuaDevice } from '../config/types.js';
import { createLogger } from '../log.js';
import { errorText } from '../scheduler/device-runner.js';
import { formatTable } from './table.js';
import { EXIT } from './exit.js';

export async function runBrowse(file: string, opts: { device: string; node?: string; out: (line: string) => void }): Promise<number> {
  const loaded = loadConfig(file);
  if (!loaded.ok) {
    for (const p of loaded.problems) opts.out(formatProblem(p));
    return EXIT.config;
  }
  const opcuaDevices = loaded.config.devices.filter((d): d is OpcuaDevice => d.driver === 'opcua');
  const device = opcuaDevices.find((d) => d.name === opts.device);
  if (!device) {
    const known = opcuaDevices.map((d) => d.name);
    opts.out(`no OPC UA device named "${opts.device}" in ${file}` + (known.length ? ` (OPC UA devices: ${known.join(', ')})` : ''));
    return EXIT.usage;
  }
  // The OPC UA stack is loaded only now, for this command.
  const { browseDevice } = await import('../../drivers/opcua/browse.js');
  try {
    const listing = await browseDevice(device, { dataDir: loaded.config.gateway.data_dir, log: createLogger('warn'), node: opts.node });
    opts.out(formatTable(listing.rows, ['node_id', 'browse_name', 'node_class', 'data_type', 'value']));
    const where = opts.node ?? 'the Objects folder';
    opts.out(`${listing.rows.length} nodes below ${where}${listing.truncated ? ' (listing cut short: browse a deeper --node)' : ''}`);
    return EXIT.ok;
  } catch (err) {
    opts.out(`${device.name}: ${errorText(err)}`);
    return EXIT.failure;
  }
}
