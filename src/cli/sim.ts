import { simulators } from '../drivers/simulators.js';
import { EXIT } from './exit.js';

const DEFAULT_PORTS: Record<string, number> = { modbus: 5020, opcua: 4840 };

/** `floorgate sim KIND`: a simulated device on its own, until SIGINT/SIGTERM. */
export async function runSim(
  kind: string | undefined,
  opts: { host: string; port?: string; unit?: string; config?: string; out: (line: string) => void },
): Promise<number> {
  const start = kind ? simulators[kind] : undefined;
  if (!start) {
    opts.out(`usage: floorgate sim ${Object.keys(simulators).join('|')} [--host H] [--port N] [--unit N] [--config FILE]`);
    if (kind === 'opcua') opts.out('the OPC UA simulator is not available in this version (it arrives with the OPC UA driver)');
    return EXIT.usage;
  }
  const port = opts.port === undefined ? DEFAULT_PORTS[kind!] : Number(opts.port);
  const unitId = opts.unit === undefined ? undefined : Number(opts.unit);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || (unitId !== undefined && !Number.isInteger(unitId))) {
    opts.out('--port and --unit take whole numbers (port 0–65535; 0 picks a free port)');
    return EXIT.usage;
  }
  const sim = await start({ host: opts.host, port, unitId, config: opts.config });
  opts.out(`simulated ${kind} device listening on ${opts.host}:${sim.port} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.close();
  opts.out(`stopped after ${sim.requests()} requests`);
  return EXIT.ok;
}
