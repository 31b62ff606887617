/**
 * A runtime-shaped StatusSource whose state a test sets directly, for the status page's API
 * and browser tests that need no PLC or broker. Includes the device data a page must survive:
 * markup in values and errors, a bigint beyond 2^53, NaN, an array.
 */
import type { Reading } from '../../src/driver/contract.js';
import type { Health, StatusSource } from '../../src/http/health.js';

export const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

export function healthy(now = Date.now()): Health {
  return {
    status: 'degraded',
    mqtt: { connected: true, since: now - 65_000, last_error: null },
    buffer: { writable: true, messages: 1234, bytes: 5_242_880, oldest_ts: now - 4_000, dropped: { full: 0, max_age: 7 } },
    devices: {
      'press-1': { up: true, last_ok_ts: now - 300, error: null, last_poll_ms: 4.25 },
      drives: { up: false, last_ok_ts: now - 90_000, error: `timeout after 1000 ms ${HOSTILE}`, last_poll_ms: null },
    },
    process: { rss_bytes: 64_000_000, event_loop_lag_ms: 1.5, buffer_write_ms: 0.8, uptime_s: 3725 },
    clock: { synchronized: false, trusted: false, reason: 'not synchronised', steps: 0, last_step: null, boot_id: 'boot-1' },
  };
}

export function readings(now = Date.now()): Record<string, Reading[]> {
  return {
    'press-1': [
      { tag: 'temperature', value: 21.5, quality: 'good', ts: now - 300 },
      { tag: 'energy_wh', value: 2n ** 63n - 1n, quality: 'good', ts: now - 300 },
      { tag: 'small_int64', value: 42n, quality: 'good', ts: now - 300 },
      { tag: 'recipe', value: HOSTILE, quality: 'good', ts: now - 300 },
      { tag: 'ratio', value: NaN, quality: 'good', ts: now - 300 },
      { tag: 'profile', value: [1, 2.5, null], quality: 'uncertain', ts: now - 300 },
    ],
    drives: [{ tag: 'speed', value: null, quality: 'bad', ts: now - 1000, error: 'ECONNREFUSED 127.0.0.1:502' }],
  };
}

export class FakeRuntime implements StatusSource {
  current: Health = healthy();
  last: Record<string, Reading[]> = readings();
  fail = false;
  healthCalls = 0;

  health(): Health {
    this.healthCalls++;
    if (this.fail) throw new Error('runtime is mid-restart');
    return this.current;
  }

  tags(): Record<string, Reading[]> {
    if (this.fail) throw new Error('runtime is mid-restart');
    return this.last;
  }
}
