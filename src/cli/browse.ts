/**
 * `floorgate browse -c FILE --device NAME [--node ID]`: lists a device's address space (node id,
 * browse name, node class, data type, value) so node ids can be copied into the config; for the
 * drivers that can browse (OPC UA). Exit 0 listed, 1 the device could not be reached, 64 no such
 * browsable device, 78 bad config.
 */
import { refuseConfig } from './config-refused.js';
import { drivers, loadFloorgateConfig } from '../assembly.js';
import { errorText } from '../error-text.js';
import { createLogger } from '../log.js';
import { formatTable } from './table.js';
import { EXIT } from './exit.js';

export async function runBrowse(file: string, opts: { device: string; node?: string; out: (line: string) => void; err: (line: string) => void }): Promise<number> {
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) return refuseConfig(loaded, opts.err);
  const browsable = loaded.config.devices.filter((d) => drivers.of(d).browse !== undefined);
  const device = browsable.find((d) => d.name === opts.device);
  if (!device) {
    const known = browsable.map((d) => d.name);
    opts.err(`no browsable device named "${opts.device}" in ${file}` + (known.length ? ` (browsable devices: ${known.join(', ')})` : ' (only OPC UA devices can be browsed)'));
    return EXIT.usage;
  }
  try {
    // The protocol stack is loaded only now, for this command.
    const listing = await drivers.of(device).browse!(device, { dataDir: loaded.config.gateway.data_dir, log: createLogger('warn'), node: opts.node });
    opts.out(formatTable(listing.rows, ['node_id', 'browse_name', 'node_class', 'data_type', 'value']));
    const where = opts.node ?? 'the Objects folder';
    opts.out(`${listing.rows.length} nodes below ${where}${listing.truncated ? ' (listing cut short: browse a deeper --node)' : ''}`);
    return EXIT.ok;
  } catch (err) {
    opts.out(`${device.name}: ${errorText(err)}`);
    return EXIT.failure;
  }
}
