/**
 * Regression: a port unplugged while bytes are arriving. With serialport's own read loop this
 * harness lost the disconnect in 9 of 20 runs, each spinning over 2 CPU-seconds in 3 s (the
 * hung-up tty's 0-byte reads, bindings-cpp #162); src/serial/port-stream.ts must report it every time.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createSerialPort } from '../../../src/serial/port-stream.js';
import { PtyLab } from './helpers.js';

let lab: PtyLab | undefined;
afterEach(async () => {
  await lab?.cleanup();
  lab = undefined;
});

/** ms from the unplug until the port reported its loss, or undefined if it did not within 2 s. */
async function unplugWhileStreaming(lab: PtyLab): Promise<number | undefined> {
  const pair = await lab.pair();
  const port = createSerialPort({ path: pair.dev, baudRate: 9600 });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  let closedAt: number | undefined;
  port.on('data', () => {});
  port.on('error', () => {});
  port.on('close', () => { closedAt ??= Date.now(); });
  // Non-blocking, so a full pty buffer makes writeSync throw instead of stalling the event loop.
  const peer = fs.openSync(pair.peer, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const burst = Buffer.from('ST,GS,  12.345 kg\r\n'.repeat(1000));
  const writer = setInterval(() => {
    try { fs.writeSync(peer, burst); } catch { /* buffer full, or the peer is gone */ }
  }, 1);
  await new Promise((r) => setTimeout(r, 30));
  const unplugged = Date.now();
  await pair.close();
  clearInterval(writer);
  fs.closeSync(peer);
  while (closedAt === undefined && Date.now() - unplugged < 2000) await new Promise((r) => setTimeout(r, 10));
  const latency = closedAt === undefined ? undefined : closedAt - unplugged;
  // Closing also ends a spinning read loop, so a failure here does not leave a core busy.
  if (port.isOpen) await new Promise((r) => port.close(() => r(undefined)));
  return latency;
}

describe('a port unplugged while bytes stream in', () => {
  it('reports the loss every time', async () => {
    lab = new PtyLab();
    const latencies: (number | undefined)[] = [];
    for (let i = 0; i < 20; i++) latencies.push(await unplugWhileStreaming(lab));
    expect(latencies.filter((ms) => ms === undefined), `latencies (ms): ${latencies.join(' ')}`).toEqual([]);
  });
});
