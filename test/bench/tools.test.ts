/**
 * The bench's own tools, checked so their figures can be trusted: the fast simulator answers
 * what the real driver expects, the independent optimum agrees with hand-counted layouts, and
 * --write replaces the README table in place. No timing is asserted here: benchmarks are
 * `npm run bench`, never part of `npm test`.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { ModbusArea, ModbusTag, ModbusTcpDevice } from '../../drivers/modbus/schema.js';
import { modbusTcp } from '../../drivers/modbus/index.js';
import { startFastSim, type FastSim } from './fast-sim.js';
import { optimumRequests } from './modbus-requests.js';
import { renderTable, writeReadme } from './readme-table.js';
import { medianRuns, parseOptions, type Figure } from './report.js';

function tag(name: string, area: ModbusArea, address: number, type: ModbusTag['type'], extra: Partial<ModbusTag> = {}): ModbusTag {
  return { name, area, address, type, byte_order: 'ABCD', poll_interval: 100, scale: 1, offset: 0, writable: false, ...extra };
}

describe('fast simulator', () => {
  let sim: FastSim;
  beforeAll(async () => { sim = await startFastSim(); });
  afterAll(async () => { await sim.close(); });

  it('serves its image to the real Modbus driver and counts each request', async () => {
    const device: ModbusTcpDevice = {
      name: 'plc', driver: 'modbus_tcp', host: '127.0.0.1', port: sim.port, unit_id: 1, poll_interval: 100, timeout: 1000,
      byte_order: 'ABCD', max_registers_per_read: 125, max_bits_per_read: 2000, max_gap: 16,
      tags: [tag('f', 'holding', 10, 'float32'), tag('i', 'input', 7, 'uint16'), tag('c', 'coil', 3, 'bool'), tag('d', 'discrete', 4, 'bool')],
    };
    const driver = await modbusTcp.create(device, { log: pino({ level: 'silent' }), countRequest: () => {}, dataDir: os.tmpdir() });
    const signal = new AbortController().signal;
    await driver.connect(signal);
    try {
      const readings = await driver.read({ key: '100ms', interval: 100, tags: device.tags }, signal);
      expect(readings.map((r) => [r.tag, r.value, r.quality])).toEqual([
        ['f', 20 + 10 / 4, 'good'], ['i', 7, 'good'], ['c', true, 'good'], ['d', false, 'good'],
      ]);
    } finally {
      await driver.close();
    }
    expect(sim.requests()).toMatchObject({ 1: 1, 2: 1, 3: 1, 4: 1 });
  });

  it('answers a read longer than 125 registers with exception 03', async () => {
    const socket = net.connect(sim.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const reply = new Promise<Buffer>((resolve) => socket.once('data', resolve));
    socket.write(Buffer.from([0, 9, 0, 0, 0, 6, 1, 3, 0, 0, 0, 126]));
    expect([...(await reply)]).toEqual([0, 9, 0, 0, 0, 3, 1, 0x83, 3]);
    socket.destroy();
  });
});

describe('optimumRequests', () => {
  it('merges across gaps up to max_gap, splits past it and past the read size', () => {
    const within = [tag('a', 'holding', 0, 'uint16'), tag('b', 'holding', 17, 'uint16')];
    expect(optimumRequests(within, 125, 16)).toBe(1);
    const beyond = [tag('a', 'holding', 0, 'uint16'), tag('b', 'holding', 18, 'uint16')];
    expect(optimumRequests(beyond, 125, 16)).toBe(2);
    const wide = Array.from({ length: 150 }, (_, i) => tag(`t${i}`, 'holding', i * 2, 'int16'));
    expect(optimumRequests(wide, 125, 16)).toBe(3);
  });

  it('counts bits of one register once and reads a tag wider than the maximum alone', () => {
    const bits = [0, 1, 2].map((b) => tag(`b${b}`, 'holding', 5, 'bool', { bit: b }));
    expect(optimumRequests(bits, 125, 0)).toBe(1);
    const text = [tag('s', 'holding', 0, 'string', { length: 130 }), tag('n', 'holding', 130, 'uint16')];
    expect(optimumRequests(text, 125, 16)).toBe(2);
  });
});

describe('README table', () => {
  const figure: Figure = {
    name: 'memory', value: 70, unit: 'MB', baseline: { what: 'bare Node', value: 40, unit: 'MB' }, ratio: 1.75, target: '≤ 1.8', met: true, note: 'a | b',
  };
  const info = { date: '2026-01-01', machine: 'test box', command: 'npm run bench -- --write', seconds: 1 };

  it('appends a Performance section once, then replaces only what is between the markers', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-bench-readme-'));
    try {
      const file = path.join(dir, 'README.md');
      fs.writeFileSync(file, '# title\n\ntext\n');
      writeReadme(file, renderTable([figure], info));
      const first = fs.readFileSync(file, 'utf8');
      expect(first.startsWith('# title\n\ntext\n\n## Performance\n\n<!-- bench:start -->')).toBe(true);
      expect(first).toContain('| memory | 70 MB | bare Node: 40 MB | 1.75 | ≤ 1.8 | met |');
      expect(first).toContain('- memory: a | b');
      fs.appendFileSync(file, '\nafter\n');
      writeReadme(file, renderTable([{ ...figure, value: 90, ratio: 2.25, met: false }], info));
      const second = fs.readFileSync(file, 'utf8');
      expect(second.match(/## Performance/g)).toHaveLength(1);
      expect(second).toContain('| memory | 90 MB | bare Node: 40 MB | 2.25 | ≤ 1.8 | **not met** |');
      expect(second).not.toContain('70 MB');
      expect(second.endsWith('<!-- bench:end -->\n\nafter\n')).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('repeated runs', () => {
  const run = (ratio: number, value: number): Figure => ({
    name: 'drain', value, unit: 'msg/s', baseline: { what: 'raw', value: value / ratio, unit: 'msg/s' }, ratio, target: '≥ 0.8', met: ratio >= 0.8,
  });

  it('keeps the median run by ratio, whole, with the range of every run', () => {
    const [f] = medianRuns([[run(0.9, 90)], [run(0.7, 84)], [run(0.82, 70)]]);
    expect(f.ratio).toBe(0.82);
    expect(f.value).toBe(70);
    expect(f.baseline.value).toBeCloseTo(70 / 0.82);
    expect(f.met).toBe(true);
    expect(f.spread).toEqual({ runs: 3, value: [70, 90], ratio: [0.7, 0.9] });
  });

  it('shows the range in the README row', () => {
    const [f] = medianRuns([[run(0.9, 90)], [run(0.7, 84)], [run(0.82, 70)]]);
    expect(renderTable([f], { date: 'd', machine: 'm', command: 'c', seconds: 1 })).toContain('| 0.82 (3 runs: 0.7–0.9) | ≥ 0.8 | met |');
  });

  it('runs three times under --full unless told otherwise', () => {
    expect(parseOptions(['--full']).repeat).toBe(3);
    expect(parseOptions([]).repeat).toBe(1);
    expect(parseOptions(['--repeat=5', 'idle']).repeat).toBe(5);
    expect(() => parseOptions(['--repeat=0'])).toThrow(/whole number/);
  });
});
