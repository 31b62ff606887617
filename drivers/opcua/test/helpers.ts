/**
 * Shared bits of the OPC UA tests: a validated device config (through the real schema), a
 * logger whose lines the test can read, and polling for a condition with a deadline.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { OpcuaDevice } from '../schema.js';
import type { Reading } from '../../../src/driver/contract.js';
import { opcuaDeviceSchema } from '../schema.js';

export function tempDir(label: string): string {
  return fs.mkdtempSync(`${os.tmpdir()}/fg-opcua-${label}-`);
}

export function device(raw: Record<string, unknown>): OpcuaDevice {
  return opcuaDeviceSchema.parse({ name: 'oven', driver: 'opcua', ...raw });
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger at debug level that keeps every line (parsed) for the test to inspect. */
export function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

/** The link states the driver went through, in order (from its 'opcua link state' lines). */
export function statePath(lines: LogLine[]): string[] {
  return lines.filter((l) => l.msg === 'opcua link state').map((l) => String(l.to));
}

export async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Collects pushed readings, and the batches they came in. */
export function collector(): { emit: (r: Reading[]) => void; readings: Reading[]; batches: Reading[][]; of: (tag: string) => Reading[] } {
  const readings: Reading[] = [];
  const batches: Reading[][] = [];
  return {
    readings,
    batches,
    emit: (r) => {
      batches.push(r);
      readings.push(...r);
    },
    of: (tag) => readings.filter((r) => r.tag === tag),
  };
}

export const noCount = () => {};
