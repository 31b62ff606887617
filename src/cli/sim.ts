import { drivers } from '../assembly.js';
import { EXIT } from './exit.js';

export interface SimArgs {
  host: string;
  port?: string;
  unit?: string;
  config?: string;
  /** Modbus RTU on this serial path instead of Modbus TCP. */
  rtu?: string;
  /** A serial instrument on this path. */
  path?: string;
  baud?: string;
  out: (line: string) => void;
  /** Usage errors. */
  err: (line: string) => void;
}

const USAGE = [
  'usage: floorgate sim modbus [--host H] [--port N] [--unit N] [--config FILE]   Modbus TCP PLC',
  '       floorgate sim modbus --rtu PATH [--unit 1,2,3] [--baud N] [--config FILE]   Modbus RTU slaves',
  '       floorgate sim opcua [--host H] [--port N] [--config FILE]                OPC UA server',
  '       floorgate sim serial --path PATH [--baud N]                              a scale printing weights',
].join('\n');

/** `floorgate sim KIND`: a simulated device on its own, until SIGINT/SIGTERM. */
export async function runSim(kind: string | undefined, args: SimArgs): Promise<number> {
  const numbers = (text: string | undefined) => text === undefined ? undefined : text.split(',').map(Number);
  const units = numbers(args.unit);
  const baud = args.baud === undefined ? undefined : Number(args.baud);
  if (units?.some((u) => !Number.isInteger(u) || u < 0 || u > 255) || (baud !== undefined && !(baud > 0))) {
    args.err('--unit takes whole numbers 0–255 (RTU: a list, e.g. 1,2,3); --baud a positive number');
    return EXIT.usage;
  }
  // A serial path (--path, or --rtu for Modbus RTU) picks the protocol's line simulator.
  const linePath = args.path ?? args.rtu;
  const onLine = kind === undefined ? undefined : drivers.lineSimulator(kind);
  const onPort = kind === undefined ? undefined : drivers.networkSimulator(kind);

  let start;
  if (onLine && (linePath !== undefined || !onPort)) {
    if (linePath === undefined) {
      args.err(`floorgate sim ${kind} needs --path PATH (a serial port or a socat pty)`);
      return EXIT.usage;
    }
    start = () => onLine.start({ path: linePath, baudRate: baud, units, config: args.config });
  } else if (onPort) {
    const port = args.port === undefined ? onPort.defaultPort : Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535 || (units && units.length > 1)) {
      args.err('--port takes a whole number 0–65535 (0 picks a free port); --unit one unit id');
      return EXIT.usage;
    }
    start = () => onPort.start({ host: args.host, port, unitId: units?.[0], config: args.config });
  } else {
    args.err(USAGE);
    return EXIT.usage;
  }
  const running = await start();
  args.out(`simulated ${kind} device listening on ${running.where} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
  args.out(`stopped after ${running.requests()} requests`);
  return EXIT.ok;
}
