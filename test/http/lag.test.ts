import { afterEach, expect, it } from 'vitest';
import { startLagMonitor, type LagMonitor } from '../../src/http/lag.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const block = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

let monitor: LagMonitor | undefined;
afterEach(() => monitor?.stop());

it('sees a stalled event loop, net of the sampling interval, and forgets it after two windows', async () => {
  monitor = startLagMonitor({ resolutionMs: 10, windowMs: 300 });
  await sleep(100);
  // Idle: the sampling interval itself is not lag. (Generous bound: the machine is shared.)
  expect(monitor.maxMs()).toBeLessThan(40);

  block(250);
  await sleep(30);
  expect(monitor.maxMs()).toBeGreaterThanOrEqual(200);
  expect(monitor.maxMs()).toBeLessThan(400);
  expect(monitor.p99Ms()).toBeGreaterThanOrEqual(200);

  // Two window boundaries later the stall has aged out.
  await sleep(700);
  expect(monitor.maxMs()).toBeLessThan(100);
});
