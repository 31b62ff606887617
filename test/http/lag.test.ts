import { expect, it } from 'vitest';
import { createLagMonitor } from '../../src/http/lag.js';

it('reports the lateness recorded in the current and the previous window, and forgets it after that', () => {
  let now = 0;
  const monitor = createLagMonitor({ windowMs: 10_000, now: () => now });
  expect(monitor.maxMs()).toBe(0);

  for (let i = 0; i < 200; i++) monitor.record(0.4);
  monitor.record(250);
  expect(monitor.maxMs()).toBeCloseTo(250, -1);
  // One stall in 201 ticks is above the 99th percentile: p99 stays with the punctual ones.
  expect(monitor.p99Ms()).toBeLessThan(1);
  for (let i = 0; i < 3; i++) monitor.record(250);
  expect(monitor.p99Ms()).toBeCloseTo(250, -1);

  // The next window still shows it (previous window)…
  now = 12_000;
  monitor.record(0.4);
  expect(monitor.maxMs()).toBeCloseTo(250, -1);
  // …the one after does not.
  now = 21_000;
  expect(monitor.maxMs()).toBeLessThan(1);
  expect(monitor.p99Ms()).toBeLessThan(1);
});

it('forgets a stall when no timer fired for two windows, however long ago it was read', () => {
  let now = 0;
  const monitor = createLagMonitor({ windowMs: 1_000, now: () => now });
  monitor.record(300);
  now = 5_500;
  expect(monitor.maxMs()).toBe(0);
  expect(monitor.p99Ms()).toBe(0);
});

it('reads a stall longer than a minute as a minute, to two significant figures', () => {
  const monitor = createLagMonitor();
  monitor.record(95_000);
  expect(monitor.maxMs()).toBeGreaterThanOrEqual(59_400);
  expect(monitor.maxMs()).toBeLessThanOrEqual(60_600);
  monitor.record(12.345);
  expect(monitor.p99Ms()).toBeGreaterThanOrEqual(59_400);
});

it('counts a timer that fired early by the clock\'s rounding as on time', () => {
  const monitor = createLagMonitor();
  monitor.record(-0.7);
  expect(monitor.maxMs()).toBe(0);
});
