/**
 * An idle gateway wakes only for its work (issue 19). One tag polled every second, with the HTTP
 * listener on, against the simulated PLC and mosquitto: the daemon's main thread is counted each
 * time it goes to sleep and is woken (voluntary context switches in /proc), which depends far
 * less than CPU time on what else the machine is doing.
 *
 * A poll's work wakes it at most three times: the poll timer, the PLC's reply and the broker's
 * PUBACK, each only when it comes in after the loop went back to sleep. One tag, so one Modbus
 * request a poll: the test bench's usual three tags take two (registers, then a coil), a fourth
 * wake-up that left one CI run at 5.2/s with no timer at fault. The commit and the
 * PUBLISH run in the turn the reply arrived; the acknowledged message is deleted by the next
 * poll's commit. Anything beyond that is a timer that wakes without work (before: the event-loop
 * lag sampler every 20 ms, ~57/s; then the HTTP server's 1 s header-timeout sweep, the commit
 * timer and a max_age wake between two commits, ~6.5/s).
 */
import { expect, it } from 'vitest';
import { mainThreadWakeUps } from '../bench/procfs.js';
import { setup } from './setup.js';

const WINDOW_MS = 10_000;
/**
 * After its first messages, before counting: the tail of start-up (a GC of the start-up garbage
 * waits for its helper thread, lazily compiled code) put one CI run at 5.3/s in a 6 s window.
 */
const SETTLE_MS = 3_000;
/** Three per poll at most, and slack for the seq floor's mark (every 10 s) and a stray one. */
const MAX_WAKE_UPS_PER_S = 5;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('wakes for the poll and what it causes, not for timers with nothing to do', async () => {
  const s = await setup({ pollInterval: '1s', httpPort: 0, tags: ['{ name: temperature, area: holding, address: 0, type: float32 }'] });
  const gw = s.gateway();
  const started = JSON.parse(await gw.waitFor((l) => l.includes('floorgate started'))) as { http_port: number };
  await s.sub.waitFor((m) => m.filter((x) => !x.topic.endsWith('/status')).length >= 2, 15_000);
  await wait(SETTLE_MS);

  const published = s.sub.messages.length;
  const w0 = mainThreadWakeUps(gw.pid);
  const t0 = performance.now();
  await wait(WINDOW_MS);
  const perSecond = (mainThreadWakeUps(gw.pid) - w0) / ((performance.now() - t0) / 1000);

  // It kept working meanwhile, and still reports its event-loop lag.
  expect(s.sub.messages.length - published).toBeGreaterThanOrEqual(WINDOW_MS / 1000 - 1);
  const health = await (await fetch(`http://127.0.0.1:${started.http_port}/healthz`)).json() as { process: { event_loop_lag_ms: number } };
  expect(typeof health.process.event_loop_lag_ms).toBe('number');
  expect(perSecond).toBeLessThanOrEqual(MAX_WAKE_UPS_PER_S);
}, 40_000);

it('still reports a stalled event loop in /healthz, measured by the poll timers', async () => {
  const s = await setup({ pollInterval: '100ms', httpPort: 0 });
  const gw = s.gateway();
  const started = JSON.parse(await gw.waitFor((l) => l.includes('floorgate started'))) as { http_port: number };
  const lag = async () => ((await (await fetch(`http://127.0.0.1:${started.http_port}/healthz`)).json()) as { process: { event_loop_lag_ms: number } })
    .process.event_loop_lag_ms;
  await s.sub.waitFor((m) => m.length >= 5, 15_000);
  expect(await lag()).toBeLessThan(100);

  // A stopped process is a loop that runs nothing: the next poll fires as late as the stop was long.
  gw.child.kill('SIGSTOP');
  await wait(400);
  gw.child.kill('SIGCONT');
  await wait(300);
  expect(await lag()).toBeGreaterThanOrEqual(250);
}, 40_000);
