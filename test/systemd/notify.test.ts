import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { notify, ready, startWatchdog, stopping, watchdog, watchdogIntervalMs } from '../../src/systemd/notify.js';

/**
 * A real AF_UNIX datagram receiver, standing in for systemd: it binds the address (a path, or
 * @name in the abstract namespace), asks the kernel for the sender's credentials as systemd does,
 * and prints each datagram as a JSON line with its exact bytes and the sending pid.
 */
const RECEIVER = `
import json, socket, struct, sys
target = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\\0' + target[1:] if target.startswith('@') else target)
print(json.dumps({'listening': True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', cdata[:12])[0]
    print(json.dumps({'hex': data.hex(), 'pid': pid}), flush=True)
`;

interface Datagram { text: string; pid: number | null }

class Receiver {
  readonly received: Datagram[] = [];
  private constructor(readonly child: ChildProcess) {}

  static start(target: string): Promise<Receiver> {
    const child = spawn('python3', ['-c', RECEIVER, target], { stdio: ['ignore', 'pipe', 'inherit'] });
    const receiver = new Receiver(child);
    children.push(child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('receiver did not start')), 5000);
      child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as { listening?: boolean; hex?: string; pid?: number | null };
        if (msg.listening) {
          clearTimeout(timer);
          resolve(receiver);
        } else {
          receiver.received.push({ text: Buffer.from(msg.hex!, 'hex').toString('latin1'), pid: msg.pid ?? null });
        }
      });
    });
  }

  async waitFor(count: number, timeoutMs = 3000): Promise<Datagram[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} datagrams, got ${this.received.length}`);
      await sleep(10);
    }
    return this.received;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ChildProcess[] = [];
const savedEnv = { ...process.env };
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-notify-'));
  delete process.env.NOTIFY_SOCKET;
  delete process.env.WATCHDOG_USEC;
  delete process.env.WATCHDOG_PID;
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  for (const key of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('sd_notify to a real unix datagram socket', () => {
  it('sends READY=1 to a socket path, from this very process (so NotifyAccess=main accepts it)', async () => {
    const target = path.join(dir, 'notify.sock');
    const receiver = await Receiver.start(target);
    process.env.NOTIFY_SOCKET = target;
    expect(ready()).toBe(true);
    const [datagram] = await receiver.waitFor(1);
    expect(datagram).toEqual({ text: 'READY=1', pid: process.pid });
  });

  it('reaches an abstract socket (@name) with the exact name, no trailing NUL', async () => {
    const target = `@floorgate-test-${process.pid}-${Date.now()}`;
    const receiver = await Receiver.start(target);
    process.env.NOTIFY_SOCKET = target;
    expect(stopping()).toBe(true);
    expect(watchdog()).toBe(true);
    expect(await receiver.waitFor(2)).toEqual([
      { text: 'STOPPING=1', pid: process.pid },
      { text: 'WATCHDOG=1', pid: process.pid },
    ]);
  });

  it('carries a STATUS line with READY and arbitrary states byte for byte', async () => {
    const target = path.join(dir, 'notify.sock');
    const receiver = await Receiver.start(target);
    process.env.NOTIFY_SOCKET = target;
    ready('3 devices, buffer open');
    notify('STATUS=draining backlög\nERRNO=0');
    const got = await receiver.waitFor(2);
    expect(got.map((d) => d.text)).toEqual([
      'READY=1\nSTATUS=3 devices, buffer open',
      Buffer.from('STATUS=draining backlög\nERRNO=0').toString('latin1'),
    ]);
  });

  it('is a no-op outside systemd', () => {
    expect(ready()).toBe(false);
    expect(watchdog()).toBe(false);
  });

  it('reports a dead socket as a warning and returns false instead of throwing', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      process.env.NOTIFY_SOCKET = path.join(dir, 'nobody-listens.sock');
      expect(ready()).toBe(false);
      process.env.NOTIFY_SOCKET = 'relative/notify.sock';
      expect(stopping()).toBe(false);
      await sleep(20); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/^sd_notify "READY=1" to .*nobody-listens\.sock failed: sendto: ENOENT$/),
      'sd_notify "STOPPING=1" to relative/notify.sock failed: NOTIFY_SOCKET must be an absolute path or @name',
    ]);
  });
});

describe('watchdog', () => {
  it('derives half of WATCHDOG_USEC, only for this pid', () => {
    expect(watchdogIntervalMs({})).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' })).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) })).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' })).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' })).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '0' })).toBeNull();
  });

  it('pings while healthy, pauses while unhealthy, and stops when told', async () => {
    const target = path.join(dir, 'notify.sock');
    const receiver = await Receiver.start(target);
    process.env.NOTIFY_SOCKET = target;
    process.env.WATCHDOG_USEC = '100000'; // a ping every 50 ms
    let healthy = true;
    const stop = startWatchdog(() => healthy);
    try {
      const pings = await receiver.waitFor(3);
      expect(pings.every((d) => d.text === 'WATCHDOG=1' && d.pid === process.pid)).toBe(true);

      healthy = false;
      await sleep(60); // let a tick that was already due go by
      const whileUnhealthy = receiver.received.length;
      await sleep(250);
      expect(receiver.received.length).toBe(whileUnhealthy);

      healthy = true;
      await receiver.waitFor(whileUnhealthy + 2);
    } finally {
      stop();
    }
    await sleep(60);
    const afterStop = receiver.received.length;
    await sleep(200);
    expect(receiver.received.length).toBe(afterStop);
  });

  it('treats a throwing health check as unhealthy', async () => {
    const target = path.join(dir, 'notify.sock');
    const receiver = await Receiver.start(target);
    process.env.NOTIFY_SOCKET = target;
    process.env.WATCHDOG_USEC = '40000';
    const stop = startWatchdog(() => {
      throw new Error('runtime gone');
    });
    await sleep(200);
    stop();
    expect(receiver.received).toEqual([]);
  });

  it('does nothing without WATCHDOG_USEC', async () => {
    const target = path.join(dir, 'notify.sock');
    const receiver = await Receiver.start(target);
    process.env.NOTIFY_SOCKET = target;
    let asked = 0;
    const stop = startWatchdog(() => ++asked > 0);
    await sleep(150);
    stop();
    expect(asked).toBe(0);
    expect(receiver.received).toEqual([]);
  });
});
