/**
 * pymodbus_server.py as a test's independent Modbus TCP device: Debian's /usr/bin/python3 with
 * pymodbus 3.0.0rc1, started on a free loopback port and stopped by the returned close().
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { needTool } from '../../../test/helpers/tools.js';

const PYTHON = '/usr/bin/python3';

/** Whether pymodbus is here (under CI=true its absence fails the file, naming it). */
export function pymodbusAvailable(what: string): boolean {
  return needTool('python3-pymodbus', spawnSync(PYTHON, ['-c', 'import pymodbus'], { timeout: 10_000 }).status === 0, what);
}

export interface PymodbusServerOptions {
  /** Answer this unit id only; absent: every unit id. */
  readonly unit?: number;
  /** Close the connection after every reply. */
  readonly closeAfterReply?: boolean;
}

export interface PymodbusServer {
  readonly port: number;
  close(): void;
}

export async function startPymodbusServer(options: PymodbusServerOptions = {}): Promise<PymodbusServer> {
  const script = fileURLToPath(new URL('./pymodbus_server.py', import.meta.url));
  const args = [script];
  if (options.unit !== undefined) args.push('--unit', String(options.unit));
  if (options.closeAfterReply) args.push('--close-after-reply');
  const server = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const close = () => {
    if (server.pid !== undefined && server.exitCode === null) process.kill(server.pid, 'SIGTERM');
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('pymodbus server did not start within 15 s')), 15_000);
      let out = '';
      server.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      server.once('exit', (code) => reject(new Error(`pymodbus server exited with ${code}`)));
    });
    return { port, close };
  } catch (err) {
    close();
    throw err;
  }
}
