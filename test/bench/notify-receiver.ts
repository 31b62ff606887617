/**
 * A real NOTIFY_SOCKET for `floorgate run`, as systemd gives it one: a python3 unix-datagram
 * socket that stamps each datagram with the wall clock. With it the daemon does what it does
 * under systemd (loads koffi, sends READY=1 and watchdog pings).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { track } from './gateway.js';

const RECEIVER = `
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('listening', flush=True)
while True:
    data = s.recv(4096)
    print('%.3f %s' % (time.time() * 1000, data.decode(errors='replace').replace('\\n', ' ')), flush=True)
`;

export interface NotifyReceiver {
  readonly socketPath: string;
  /** Resolves with the epoch ms at which the next READY=1 arrives. */
  nextReady(timeoutMs: number): Promise<number>;
  close(): void;
}

export async function notifyReceiver(dir: string): Promise<NotifyReceiver> {
  const socketPath = path.join(dir, 'notify.sock');
  const child = track(spawn('python3', ['-u', '-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters) w();
  });
  const until = (pred: (line: string) => boolean, timeoutMs: number): Promise<string> => new Promise((resolve, reject) => {
    const check = () => {
      const i = lines.findIndex(pred);
      if (i < 0) return;
      const [line] = lines.splice(0, i + 1).slice(-1);
      done();
      resolve(line);
    };
    const timer = setTimeout(() => { done(); reject(new Error(`no notification within ${timeoutMs} ms`)); }, timeoutMs);
    const done = () => { clearTimeout(timer); waiters.delete(check); };
    waiters.add(check);
    check();
  });
  await until((l) => l === 'listening', 5_000);
  return {
    socketPath,
    nextReady: async (timeoutMs) => Number((await until((l) => l.includes('READY=1'), timeoutMs)).split(' ')[0]),
    close: () => child.kill('SIGKILL'),
  };
}
