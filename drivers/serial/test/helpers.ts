import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { SerialDevice, SerialTag } from '../schema.js';
import type { DriverContext, PollGroup, Reading } from '../../../src/driver/contract.js';
import { startPtyPair, type PtyPair } from '../../../src/serial/pty-pair.js';

/** The reference's scale pattern. */
export const SCALE_PATTERN = String.raw`^ST,GS,\s*(?<weight>[-+]?\d+(\.\d+)?)\s*kg$`;

/** A fully normalised SerialTag, as the config loader would hand it over. */
export function stag(partial: Partial<SerialTag> & Pick<SerialTag, 'name'>): SerialTag {
  return { group: partial.name, type: 'float64', poll_interval: 1000, scale: 1, offset: 0, writable: false, ...partial };
}

export function serialDevice(port: string, over: Partial<SerialDevice> = {}): SerialDevice {
  return {
    name: 'scale', driver: 'serial', port, baud_rate: 9600, parity: 'none', data_bits: 8, stop_bits: 1,
    poll_interval: 1000, timeout: 1000, delimiter: '\r\n', pattern: SCALE_PATTERN,
    tags: [stag({ name: 'weight' })], ...over,
  };
}

export interface LogRecord { level: number; msg: string; [key: string]: unknown }

/** A DriverContext that counts requests and keeps every log record. */
export function testContext(): DriverContext & { requests: number; logs: LogRecord[] } {
  const logs: LogRecord[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as LogRecord); } });
  const ctx = { log, dataDir: '/nonexistent', requests: 0, logs, countRequest: (n = 1) => { ctx.requests += n; } };
  return ctx;
}

export const warnings = (ctx: { logs: LogRecord[] }) => ctx.logs.filter((r) => r.level === 40);

export function group(tags: readonly SerialTag[], key = '1000ms'): PollGroup<SerialTag> {
  return { key, interval: 1000, tags };
}

export const never = new AbortController().signal;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves once check() is true; fails the test after timeoutMs. */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Readings pushed by subscribe(), in arrival order. */
export function collector(): { readings: Reading[]; emit: (r: Reading[]) => void } {
  const readings: Reading[] = [];
  return { readings, emit: (r) => { readings.push(...r); } };
}

/** What is plugged into a pair's peer end: a simulator that notices when its line vanishes. */
export interface Instrument {
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * A temp dir for pty links, every socat started in it, and whatever else a test hands to
 * defer(); cleanup() stops it all, the deferred first (newest first), then the pairs.
 */
export class PtyLab {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-serial-'));
  readonly dev = path.join(this.dir, 'dev');
  readonly peer = path.join(this.dir, 'peer');
  private readonly pairs: PtyPair[] = [];
  private readonly stops: (() => Promise<void>)[] = [];

  async pair(): Promise<PtyPair> {
    const p = await startPtyPair(this.dev, this.peer);
    this.pairs.push(p);
    return p;
  }

  /**
   * Plugs in a new pty pair with the instrument start() opens on its peer end. unplug() kills
   * the pair (both paths vanish, as a USB adapter's do) and waits until the instrument noticed.
   */
  async plugInWith<T extends Instrument>(start: (peer: string) => Promise<T>): Promise<{ sim: T; unplug: () => Promise<void> }> {
    const pair = await this.pair();
    const sim = await start(this.peer);
    this.defer(() => sim.close());
    return { sim, unplug: async () => { await pair.close(); await sim.closed; } };
  }

  /** Something to stop before the ptys go. */
  defer(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }

  async cleanup(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop();
    for (const p of this.pairs.splice(0)) await p.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
