import fs from 'node:fs';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { PtyLab } from './helpers.js';

let lab: PtyLab | undefined;
afterEach(async () => {
  await lab?.cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startPtyPair', () => {
  it('joins two pty links and removes them, and its socat, on close', async () => {
    lab = new PtyLab();
    const pair = await lab.pair();
    expect(fs.readlinkSync(pair.dev)).toMatch(/^\/dev\/pts\/\d+$/);
    // serialport reads without blocking the event loop, so the test's timeout still holds.
    const port = new SerialPort({ path: pair.dev, baudRate: 9600 });
    const received = new Promise<string>((resolve) => port.once('data', (d: Buffer) => resolve(d.toString())));
    await new Promise((resolve) => port.once('open', resolve));
    const b = fs.openSync(pair.peer, 'r+');
    fs.writeSync(b, 'hello\n');
    expect(await received).toBe('hello\n');
    fs.closeSync(b);
    await new Promise((resolve) => port.close(resolve));

    await pair.close();
    expect(fs.existsSync(pair.dev)).toBe(false);
    expect(fs.existsSync(pair.peer)).toBe(false);
    expect(alive(pair.pid)).toBe(false);
  });
});
