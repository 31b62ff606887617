/**
 * Several units on one line: one open port for all of them, one request on the wire at a time,
 * turns taken fairly, the silent interval kept, and a dead unit that does not starve the others.
 */
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModbusTag } from '../schema.js';
import { silentIntervalMs } from '../rtu-timing.js';
import type { RtuSimRequest } from '../rtu-sim.js';
import { openSerialPort } from '../../../src/serial/open-port.js';
import { group, mtag, never, sleep } from './helpers.js';
import { RtuLab, rtuDevice, until } from './rtu-helpers.js';

let lab: RtuLab;
beforeEach(() => { lab = new RtuLab(); });
afterEach(async () => { await lab.cleanup(); });

const reg = (name: string, address: number, poll_interval = 1000): ModbusTag =>
  mtag({ name, area: 'holding', address, poll_interval });

/** Percentile of sorted numbers. */
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

describe('one line, several units', () => {
  it('shares one open port, keeps it while any device uses it, and closes it after the last', async () => {
    const { sim } = await lab.plugIn({ units: [1, 2], map: { tags: [{ area: 'holding', address: 0, value: 7 }] } });
    const tags = [reg('x', 0)];
    const a = await lab.driver(rtuDevice(lab.dev, tags, { unit_id: 1 }));
    const b = await lab.driver(rtuDevice(lab.dev, tags, { unit_id: 2 }));
    // serialport locks what it opens: a second open of the path by us would have failed.
    await expect(openSerialPort({ ...rtuDevice(lab.dev, tags) }, never, { onData: () => {}, onLost: () => {} }))
      .rejects.toThrow(/in use by another program/);
    expect((await a.driver.read(group(tags), never))[0].value).toBe(7);
    expect((await b.driver.read(group(tags), never))[0].value).toBe(7);
    await a.driver.close();
    expect((await b.driver.read(group(tags), never))[0].value).toBe(7);
    expect([sim.requests(1), sim.requests(2)]).toEqual([1, 2]);
    await b.driver.close();
    const again = await openSerialPort(rtuDevice(lab.dev, tags), never, { onData: () => {}, onLost: () => {} });
    await again.close();
  });

  it('refuses a device that wants other line settings on a port already open', async () => {
    await lab.plugIn();
    const tags = [reg('x', 0)];
    await lab.driver(rtuDevice(lab.dev, tags, { unit_id: 1 }));
    await expect(lab.driver(rtuDevice(lab.dev, tags, { unit_id: 2, baud_rate: 19200, parity: 'even' })))
      .rejects.toThrow(`serial port ${lab.dev} is open at 9600 8N1 for other devices; this device wants 19200 8E1`);
  });

  it('takes turns request by request, and keeps t3.5 of silence between frames', async () => {
    const { sim } = await lab.plugIn({ units: [1, 2] });
    // Tags 40 registers apart: ten requests per poll for each device.
    const tags = Array.from({ length: 10 }, (_, i) => reg(`r${i}`, i * 40));
    const a = await lab.driver(rtuDevice(lab.dev, tags, { unit_id: 1 }));
    const b = await lab.driver(rtuDevice(lab.dev, tags, { unit_id: 2 }));
    for (let round = 0; round < 5; round++) {
      const [ra, rb] = await Promise.all([a.driver.read(group(tags), never), b.driver.read(group(tags), never)]);
      expect([...ra, ...rb].every((r) => r.quality === 'good')).toBe(true);
    }
    const history = sim.history();
    expect(history).toHaveLength(100);
    // Strict alternation: neither device ever sends two requests while the other waits.
    expect(history.map((r) => r.unit).join('')).toBe('12'.repeat(50));

    const t35 = silentIntervalMs(rtuDevice(lab.dev, tags));
    const gaps = (from: keyof RtuSimRequest) =>
      history.slice(1).map((r, i) => r.at - (history[i][from] as number)).sort((x, y) => x - y);
    const show = (g: number[]) => `min ${g[0].toFixed(2)} p50 ${pct(g, 0.5).toFixed(2)} p90 ${pct(g, 0.9).toFixed(2)} max ${g.at(-1)!.toFixed(2)} ms`;
    const drained = gaps('repliedAt');
    console.log(`t3.5 at 9600 8N1 = ${t35.toFixed(2)} ms; silence before each request, seen by the slave over a pty, ` +
      `from its reply drained: ${show(drained)}; from its reply written: ${show(gaps('replyStartedAt'))}`);
    // Hard bound: the master saw the reply after the slave wrote it, and waited t3.5 from there.
    // (From the slave's drain callback the same gap can look shorter when that callback is late.)
    expect(gaps('replyStartedAt')[0]).toBeGreaterThanOrEqual(t35);
    expect(pct(drained, 0.5)).toBeGreaterThanOrEqual(t35);
  });
});

describe('a dead unit on the line', () => {
  it('costs one timeout, then is backed off: the live units keep their poll rate, and it is back once it answers', async () => {
    const { sim } = await lab.plugIn({ units: [1, 2, 3], map: { tags: [{ area: 'holding', address: 0, counter: { step: 1, every: 10 } }] } });
    sim.setFault({ mode: 'silent' }, 3);
    const INTERVAL = 100;
    const TIMEOUT = 250;
    const tags = [reg('x', 0, INTERVAL)];
    const device = (unit_id: number) => rtuDevice(lab.dev, tags, { name: `u${unit_id}`, unit_id, poll_interval: INTERVAL, timeout: TIMEOUT });
    const live = [lab.runner(device(1)), lab.runner(device(2))];
    const dead = lab.runner(device(3));
    const start = performance.now();
    await sleep(3500);
    const end = performance.now();

    const history = sim.history().filter((r) => r.at >= start + 500 && r.at <= end);
    const window = end - start - 500;
    // Without the backoff the dead unit would hold the line 250 ms of every 300, and the others
    // would lose half their polls. Tolerances are wide: the machine running this is shared.
    for (const unit of [1, 2]) {
      const at = history.filter((r) => r.unit === unit).map((r) => r.at);
      const spacing = at.slice(1).map((t, i) => t - at[i]).sort((x, y) => x - y);
      expect(at.length, `unit ${unit} polls`).toBeGreaterThanOrEqual(Math.floor((window / INTERVAL) * 0.6));
      expect(pct(spacing, 0.5), `unit ${unit} median spacing`).toBeLessThanOrEqual(INTERVAL * 1.3);
      expect(spacing.at(-1), `unit ${unit} longest pause`).toBeLessThanOrEqual(INTERVAL + TIMEOUT + 300);
    }
    // First poll, then after 1 s and 2 s pauses (each plus one timeout): three attempts in 3.5 s.
    expect(sim.requests(3)).toBeGreaterThanOrEqual(2);
    expect(sim.requests(3)).toBeLessThanOrEqual(4);
    expect(live.every(({ runner }) => runner.status().up)).toBe(true);
    expect(dead.runner.status()).toMatchObject({ up: false });
    expect(dead.runner.status().error).toMatch(
      /^(timeout after 250 ms|unit 3 on .* is not answering \(timeout after 250 ms\); left alone for [124] s between attempts)$/,
    );
    expect(dead.published.filter((r) => r.quality === 'bad')).toEqual([
      expect.objectContaining({ tag: 'x', error: `timeout after ${TIMEOUT} ms` }),
    ]);

    sim.setFault({}, 3);
    // The next attempt comes after the current pause (4 s at most by now).
    await until(() => dead.runner.status().up, 7000, 'unit 3 back');
    expect(dead.published.at(-1)).toMatchObject({ quality: 'good' });
  });
});
