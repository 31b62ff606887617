/**
 * Modbus request efficiency: read requests per poll cycle, counted by the simulator, ÷ the
 * optimum for the tag layout under max_registers_per_read and max_gap.
 *
 * The layout is a realistic press PLC (process values, sparse setpoints, status bits, counters,
 * a recipe string, gaps both under and over max_gap, a block wider than one read, input
 * registers, coils, discrete inputs, a slower poll group), loaded through the real config
 * loader. The real driver reads it over TCP from the fast simulator; the optimum is computed
 * here independently of the planner, by dynamic programming: with non-overlapping tags in
 * address order, a request serves a contiguous run of them, so the fewest requests is the
 * fewest runs whose hulls are valid reads.
 */
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadFloorgateConfigText } from '../../src/assembly.js';
import type { ModbusArea, ModbusTag, ModbusTcpDevice } from '../../drivers/modbus/schema.js';
import { pollGroups } from '../../src/scheduler/groups.js';
import { modbusTcp } from '../../drivers/modbus/index.js';
import { tagWidth } from '../../drivers/modbus/codec.js';
import { startFastSim } from './fast-sim.js';
import { runIfMain, type Bench, type Figure } from './report.js';

const CYCLES = 20;

/** One tag per line, `name area address type [extra]`. */
export function pressLayout(): string[] {
  const tags: string[] = [];
  const add = (name: string, area: ModbusArea, address: number, type: string, extra = '') =>
    tags.push(`      - { name: ${name}, area: ${area}, address: ${address}, type: ${type}${extra} }`);
  for (let i = 0; i < 30; i++) add(`pv${i}`, 'holding', i * 2, 'float32');
  for (let i = 0; i < 20; i++) add(`sp${i}`, 'holding', 100 + i * 2, 'int16');
  for (let b = 0; b < 8; b++) add(`status_b${b}`, 'holding', 200, 'bool', `, bit: ${b}`);
  for (let b = 0; b < 4; b++) add(`alarm_b${b}`, 'holding', 201, 'bool', `, bit: ${b}`);
  for (let i = 0; i < 10; i++) add(`count${i}`, 'holding', 300 + i * 2, 'uint32', ', byte_order: CDAB');
  add('recipe', 'holding', 400, 'string', ', length: 10');
  for (let i = 0; i < 40; i++) add(`zone${i}`, 'holding', 500 + i * 2, 'float32');
  // 20 registers after the last zone: more than max_gap, so a separate read.
  for (let i = 0; i < 20; i++) add(`drive${i}`, 'holding', 600 + i * 2, 'float32');
  // 300 registers, every other one: wider than one 125-register read.
  for (let i = 0; i < 150; i++) add(`hist${i}`, 'holding', 1000 + i * 2, 'int16');
  for (let i = 0; i < 50; i++) add(`ai${i}`, 'input', i * 2, 'int16');
  for (let i = 0; i < 2; i++) add(`energy${i}`, 'input', 1000 + i * 4, 'float64');
  for (let i = 0; i < 16; i++) add(`run${i}`, 'coil', i * 2, 'bool');
  for (let i = 0; i < 8; i++) add(`valve${i}`, 'coil', 100 + i, 'bool');
  for (let i = 0; i < 64; i++) add(`di${i}`, 'discrete', i, 'bool');
  for (let i = 0; i < 10; i++) add(`slow${i}`, 'holding', 2000 + i, 'int16', ', poll_interval: 1s');
  return tags;
}

/** The fewest valid reads covering tags of one area (non-overlapping spans, or several bits of one register). */
export function optimumRequests(tags: readonly ModbusTag[], max: number, maxGap: number): number {
  // Bits of one register are one span: merge identical spans first.
  const spans = [...new Map(tags.map((t) => [t.address, t.address + tagWidth(t) - 1])).entries()]
    .map(([start, end]) => ({ start, end }))
    .sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].start <= spans[i - 1].end) throw new Error('optimumRequests needs non-overlapping tags');
  }
  const n = spans.length;
  const best = new Array<number>(n + 1).fill(Infinity);
  best[n] = 0;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = i + 1; j <= n; j++) {
      // Run spans[i..j-1]: one read from spans[i].start to spans[j-1].end.
      if (j > i + 1) {
        const width = spans[j - 1].end - spans[i].start + 1;
        const gap = spans[j - 1].start - spans[j - 2].end - 1;
        if (width > max || gap > maxGap) break;
      }
      best[i] = Math.min(best[i], 1 + best[j]);
    }
  }
  return best[0];
}

export const modbusRequests: Bench = async () => {
  const sim = await startFastSim();
  const text = `gateway: { id: bench-plan, data_dir: ${os.tmpdir()} }
mqtt: { url: "mqtt://127.0.0.1:1" }
http: { listen: false }
devices:
  - name: press-1
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${sim.port}
    poll_interval: 100ms
    max_registers_per_read: 125
    max_gap: 16
    tags:
${pressLayout().join('\n')}
`;
  const loaded = loadFloorgateConfigText(text, path.join(os.tmpdir(), 'bench-plan.yaml'));
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems, null, 2));
  const device = loaded.config.devices[0] as ModbusTcpDevice;
  const driver = await modbusTcp.create(device, { log: pino({ level: 'silent' }), countRequest: () => {}, dataDir: os.tmpdir() });
  const groups = pollGroups(device.tags);
  let optimum = 0;
  for (const g of groups) {
    const tags = g.tags as readonly ModbusTag[];
    for (const area of ['holding', 'input', 'coil', 'discrete'] as const) {
      const inArea = tags.filter((t) => t.area === area);
      const max = area === 'coil' || area === 'discrete' ? device.max_bits_per_read : device.max_registers_per_read;
      if (inArea.length > 0) optimum += optimumRequests(inArea, max, device.max_gap);
    }
  }
  try {
    const signal = new AbortController().signal;
    await driver.connect(signal);
    for (let c = 0; c < CYCLES; c++) {
      for (const g of groups) {
        const readings = await driver.read(g, signal);
        const bad = readings.find((r) => r.quality !== 'good');
        if (bad) throw new Error(`tag ${bad.tag} read bad: ${bad.error}`);
      }
    }
  } finally {
    await driver.close();
    await sim.close();
  }
  const counts = sim.requests();
  const reads = (counts[1] ?? 0) + (counts[2] ?? 0) + (counts[3] ?? 0) + (counts[4] ?? 0);
  const perCycle = reads / CYCLES;
  const figure: Figure = {
    name: 'Modbus request efficiency',
    value: perCycle,
    unit: 'requests/cycle',
    baseline: { what: 'optimum for the layout', value: optimum, unit: 'requests/cycle' },
    ratio: perCycle / optimum,
    target: '1.00',
    met: perCycle === optimum,
    note: `${device.tags.length} tags in ${groups.length} poll groups, max 125 registers, max_gap 16, ${CYCLES} cycles counted at the simulator`,
  };
  return [figure];
};

runIfMain(import.meta.url, modbusRequests);
