/**
 * floorgate_serial_line_busy_ratio against the plan: two units on one line polled on a known
 * schedule under the real scheduler, over a pty pair whose simulator answers as late as a real
 * 2400-baud line would let it (a pty carries no baud rate). A slow line, so that the host's timer
 * and event-loop latency, a few ms an exchange on a loaded machine, stays small beside the wire time. The bus measures how busy the line
 * was; the scheduler's DriverContext carries that to the gauge.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { modbusRtu } from '../index.js';
import { BUSY_WINDOW_MS } from '../rtu-bus.js';
import { Metrics } from '../../../src/metrics.js';
import { mtag, sleep } from './helpers.js';
import { RtuLab, rtuDevice } from './rtu-helpers.js';

let lab: RtuLab;
beforeEach(() => { lab = new RtuLab(); });
afterEach(async () => { await lab.cleanup(); });

const INTERVAL_MS = 800;
const block = (name: string, registers: number) =>
  mtag({ name, area: 'holding', address: 0, type: 'string', length: registers, poll_interval: INTERVAL_MS });

it('measures the line as busy as the plan computes, within a tolerance', async () => {
  const { sim } = await lab.plugIn({ units: [1, 2], baudRate: 2400, wireTiming: true });
  const one = rtuDevice(lab.dev, [block('a', 20)], { name: 'one', unit_id: 1, baud_rate: 2400, timeout: 1000 });
  const two = rtuDevice(lab.dev, [block('b', 10)], { name: 'two', unit_id: 2, baud_rate: 2400, timeout: 1000 });
  // 2400 8N1, 10 bits a character (4.1667 ms), t3.5 = 14.583 ms: (8 + 45) · 4.1667 + 2 · 14.583 =
  // 250.000 ms and (8 + 25) · 4.1667 + 2 · 14.583 = 166.667 ms, every 800 ms.
  const planned = modbusRtu.lineLoads!([one, two])[0].load;
  expect(planned).toBeCloseTo(416.667 / 800, 4);

  const metrics = new Metrics(false);
  lab.runner(one, metrics);
  lab.runner(two, metrics);
  // The first window holds the connect; the second is steady polling.
  await sleep(2 * BUSY_WINDOW_MS + 300);
  const measured = metrics.serialLineBusy.get({ port: lab.dev });
  const polls = [sim.requests(1), sim.requests(2)];
  console.log(`planned ${planned.toFixed(3)}, measured ${measured?.toFixed(3)}; polls per unit ${polls.join(', ')}`);
  // The schedule was kept.
  for (const n of polls) expect(n).toBeGreaterThanOrEqual(Math.floor(((2 * BUSY_WINDOW_MS) / INTERVAL_MS) * 0.9));
  // Measured from the host it can only be longer: timers, the event loop, the simulator's own latency.
  expect(measured).toBeGreaterThan(planned - 0.03);
  expect(measured).toBeLessThan(planned + 0.1);
});
