/**
 * Cross-checks against an independent implementation, Debian's /usr/bin/python3 with pymodbus
 * 3.0.0rc1 (and pyserial-asyncio), over a socat pty pair:
 * - pymodbus as the RTU slaves (two units on one line, values laid out by pymodbus' own
 *   BinaryPayloadBuilder in all four byte orders): the driver must read every one;
 * - pymodbus as the RTU master against our simulator: its framing and CRCs must satisfy pymodbus.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ByteOrder, ModbusArea, ModbusTag, ModbusTagType } from '../schema.js';
import { needTool } from '../../../test/helpers/tools.js';
import { group, mtag, never } from './helpers.js';
import { RtuLab, rtuDevice } from './rtu-helpers.js';

const PYTHON = '/usr/bin/python3';
const available = needTool('python3-pymodbus with python3-serial-asyncio', spawnSync(PYTHON, ['-c', 'import pymodbus, serial_asyncio'], { timeout: 10_000 }).status === 0, 'the pymodbus cross-check over RTU');

interface Served {
  unit: number;
  name: string;
  area: ModbusArea;
  address: number;
  type: ModbusTagType;
  byte_order?: ByteOrder;
  length?: number;
  /** Integers as decimal strings. */
  value: string | number | boolean;
}

let lab: RtuLab;
const children: ChildProcess[] = [];
beforeEach(() => { lab = new RtuLab(); });
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
  }
  await lab.cleanup();
});

/** Runs a python script; resolves with its stdout's first JSON line (and the output so far on failure). */
function runPython(args: string[]): Promise<{ child: ChildProcess; first: unknown }> {
  const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${args[0]} printed nothing within 15 s: ${err}`)), 15_000);
    child.stderr!.on('data', (chunk: Buffer) => { err = (err + chunk.toString()).slice(-2000); });
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line !== undefined && out.includes('\n')) {
        clearTimeout(timer);
        resolve({ child, first: JSON.parse(line) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}: ${err}`));
    });
  });
}

/** What the driver must read for a served value: 64-bit integers beyond ±2^53−1 stay bigint. */
function expected(s: Served): unknown {
  if (typeof s.value !== 'string' || s.type === 'string') return s.value;
  const n = BigInt(s.value);
  return n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER) ? n : Number(n);
}

const script = (name: string) => fileURLToPath(new URL(name, import.meta.url));

describe.skipIf(!available)('pymodbus cross-check over RTU', () => {
  it('reads what two pymodbus slaves on one line serve, every type in every byte order', async () => {
    await lab.pair();
    const { first } = await runPython([script('./rtu_pymodbus_slave.py'), lab.peer, '1,2']);
    const served = (first as { tags: Served[] }).tags;
    for (const unit of [1, 2]) {
      const mine = served.filter((s) => s.unit === unit);
      const tags: ModbusTag[] = mine.map((s) => mtag({
        name: s.name, area: s.area, address: s.address, type: s.type, length: s.length, byte_order: s.byte_order ?? 'ABCD',
      }));
      const { driver, ctx } = await lab.driver(rtuDevice(lab.dev, tags, { unit_id: unit, timeout: 1000 }));
      const readings = await driver.read(group(tags), never);
      for (const r of readings) expect(r.quality, `${r.tag}: ${r.error}`).toBe('good');
      expect(Object.fromEntries(readings.map((r) => [r.tag, r.value]))).toEqual(Object.fromEntries(mine.map((s) => [s.name, expected(s)])));
      // Holding blocks at 0, 40, 80, 120 merge in pairs across their 15-register gaps (max_gap 16):
      // two holding reads, one input, one coil and one discrete read.
      expect(ctx.requests).toBe(5);
    }
  });

  it('pymodbus as the master reads and writes our simulated slaves', async () => {
    const { sim } = await lab.plugIn({
      units: [1, 5],
      map: { tags: [
        { area: 'holding', address: 10, type: 'float32', value: 21.5 },
        { area: 'input', address: 0, type: 'int16', value: -3 },
        { area: 'coil', address: 2, value: true },
        { area: 'discrete', address: 1, value: true },
      ] },
    });
    const { first } = await runPython([script('./rtu_pymodbus_master.py'), lab.dev, '1,5']);
    expect(first).toEqual({
      1: { holding: [0x41ac, 0x0000], input: [65533], coils: [false, false, true], discrete: [false, true], written: [7, 8, 9], missing: 'no reply' },
      5: { holding: [0x41ac, 0x0000], input: [65533], coils: [false, false, true], discrete: [false, true], written: [7, 8, 9], missing: 'no reply' },
    });
    // Six each; the requests to unit 9 went unanswered, as on a real line.
    expect([sim.requests(1), sim.requests(5), sim.requests(9)]).toEqual([6, 6, 0]);
  });
});
