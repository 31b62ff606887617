/**
 * An idle gateway wakes only for its work (issue 19). One tag polled every second, with the HTTP
 * listener on, against the simulated PLC and mosquitto: the daemon's main thread is counted each
 * time it goes to sleep and is woken (voluntary context switches in /proc), which, unlike CPU
 * time, does not depend on what else the machine is doing.
 *
 * A poll's work wakes it about six times: the poll timer, the PLC's two replies (holding
 * registers and coils), the commit timer, the broker's PUBACK and the commit that deletes the
 * acknowledged message. Anything well beyond that is a timer that wakes without work (before:
 * the event-loop lag sampler every 20 ms, ~57/s).
 */
import { expect, it } from 'vitest';
import { mainThreadWakeUps } from '../bench/procfs.js';
import { setup } from './setup.js';

const WINDOW_MS = 6_000;
/** Six per poll, the HTTP server's 1 s header-timeout sweep and status-page sampler, and slack for a stray one. */
const MAX_WAKE_UPS_PER_S = 10;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('wakes for the poll and what it causes, not for timers with nothing to do', async () => {
  const s = await setup({ pollInterval: '1s', httpPort: 0 });
  const gw = s.gateway();
  const started = JSON.parse(await gw.waitFor((l) => l.includes('floorgate started'))) as { http_port: number };
  await s.sub.waitFor((m) => m.filter((x) => !x.topic.endsWith('/status')).length >= 2, 15_000);

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
