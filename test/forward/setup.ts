/** Shared pieces of the forwarder tests: a real buffer on a temp dir, a log capture, appenders. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { BufferConfig, FloorgateConfig } from '../../src/config/types.js';
import type { MessageStore } from '../../src/buffer/types.js';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { encodeReadings, encodeTagReading } from '../../src/message/encode.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { JsonFormat } from '../../src/forward/json-format.js';
import { VERSION } from '../../src/package-info.js';
import type { Received } from '../helpers/subscriber.js';

export { captureLog, type LogCapture } from '../helpers/log.js';

export function openStore(dir: string, config: BufferConfig, log: Logger): MessageStore {
  return openBuffer({ path: path.join(dir, 'buffer.db'), config, log });
}

let counter = 0;

/** n per_device messages of two readings each, committed at once. */
export function appendBatches(store: MessageStore, n: number, device = 'press-1'): void {
  for (let i = 0; i < n; i++) {
    const ts = Date.now();
    const k = counter++;
    store.append({
      device, tag: null, readings: 2, ts,
      body: encodeReadings([
        { tag: 'temperature', value: k + 0.5, quality: 'good', ts },
        { tag: 'running', value: null, quality: 'bad', ts, error: 'exception 2: illegal data address' },
      ]),
    });
  }
  store.flush();
}

/** n per_tag messages, committed at once. */
export function appendTagReadings(store: MessageStore, n: number, device = 'press-1'): void {
  for (let i = 0; i < n; i++) {
    const ts = Date.now();
    store.append({ device, tag: `tag${i % 3}`, readings: 1, ts, body: encodeTagReading({ tag: `tag${i % 3}`, value: counter++, quality: 'good', ts }) });
  }
  store.flush();
}

export const isData = (m: Received): boolean => !m.topic.endsWith('/status');
export const seqsOf = (ms: readonly Received[]): number[] => ms.filter(isData).map((m) => m.payload.seq as number);

/** True when every seq in 1..n has arrived. */
export function complete(ms: readonly Received[], n: number): boolean {
  const seen = new Set(seqsOf(ms));
  for (let s = 1; s <= n; s++) if (!seen.has(s)) return false;
  return true;
}

export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Owns what a test starts, and ends it in reverse order. */
/** The JSON wire format of a config, over a store (what mqtt.format json gives). */
export function jsonFormat(config: FloorgateConfig, store: MessageStore): JsonFormat {
  return new JsonFormat(config, VERSION, store.epoch);
}

export class Rig {
  private readonly closers: (() => unknown)[] = [];

  add<T>(x: T, close: (x: T) => unknown): T {
    this.closers.push(() => close(x));
    return x;
  }

  /** A fresh directory, removed at close() (after the stores in it are closed). */
  tempDir(): string {
    return this.add(fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-forward-')), (dir) => fs.rmSync(dir, { recursive: true, force: true }));
  }

  forwarder(config: FloorgateConfig, store: MessageStore, log: Logger): Forwarder {
    return this.add(new Forwarder({ config, store, log, format: jsonFormat(config, store) }), (f) => f.stop());
  }

  async close(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) await close();
  }
}
