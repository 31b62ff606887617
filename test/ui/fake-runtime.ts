/**
 * A runtime-shaped StatusSource whose state a test sets directly, for the status page's API
 * and browser tests that need no PLC or broker. Includes the device data a page must survive:
 * markup in values and errors, a bigint beyond 2^53, NaN, an array.
 */
import type { Reading } from '../../src/driver/contract.js';
import type { Health, StatusSource, TagTable } from '../../src/http/health.js';
import { currentVersion, LatestReading, nextVersion } from '../../src/scheduler/latest-reading.js';

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

/**
 * Each tagTable() replays `last` into the runtime's own LatestReading, so versions move as they
 * do in the daemon: a new reading object with another value, quality or error is a change. A tag
 * list that differs from the previous call is a new layout, as a reload is.
 */
export class FakeRuntime implements StatusSource {
  current: Health = healthy();
  last: Record<string, Reading[]> = readings();
  fail = false;
  healthCalls = 0;
  private readonly kept = new Map<string, LatestReading>();
  private layout = '';
  private layoutVersion = 0;

  health(): Health {
    this.healthCalls++;
    if (this.fail) throw new Error('runtime is mid-restart');
    return this.current;
  }

  tagTable(): TagTable {
    if (this.fail) throw new Error('runtime is mid-restart');
    const layout = JSON.stringify(Object.entries(this.last).map(([name, rs]) => [name, rs.map((r) => r.tag)]));
    if (layout !== this.layout) {
      this.layout = layout;
      this.layoutVersion = nextVersion();
      this.kept.clear();
    }
    const devices = Object.entries(this.last).map(([name, rs]) => {
      for (const r of rs) {
        const key = JSON.stringify([name, r.tag]);
        const kept = this.kept.get(key);
        if (kept) kept.update(r);
        else this.kept.set(key, new LatestReading(r));
      }
      return { name, tags: rs.map((r) => r.tag), latestOf: (tag: string) => this.kept.get(JSON.stringify([name, tag])) };
    });
    return { layoutVersion: this.layoutVersion, version: currentVersion(), devices };
  }
}
