import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatHealth, runStatus } from '../../src/cli/status.js';
import type { Health } from '../../src/http/health.js';
import { startHttpServer, type HttpServer } from '../../src/http/server.js';
import { Metrics } from '../../src/metrics.js';

const NOW = 1_764_396_300_000;

function health(overrides: Partial<Health> = {}): Health {
  return {
    status: 'ok',
    mqtt: { connected: true, since: NOW - 125_000, last_error: null },
    buffer: { writable: true, messages: 1234, bytes: 2_202_009, oldest_ts: NOW - 192_400, dropped: {} },
    devices: {
      // Unrounded, as the daemon measures them; printed for people.
      'press-1': { up: true, last_ok_ts: NOW - 400, error: null, last_poll_ms: 4.2138 },
      drives: { up: true, last_ok_ts: NOW - 1_500, error: null, last_poll_ms: 31.37 },
    },
    process: { rss_bytes: 63_963_136, event_loop_lag_ms: 1.4999, buffer_write_ms: 0.7704530000009981, uptime_s: 3 * 3600 + 2 * 60 + 5 },
    ...overrides,
  };
}

describe('formatHealth', () => {
  const ctx = { gateway: 'line1-gw01', url: 'http://127.0.0.1:9102/healthz', now: NOW };

  it('prints a healthy gateway', () => {
    expect(formatHealth(health(), ctx)).toEqual([
      'floorgate line1-gw01 at http://127.0.0.1:9102: ok',
      '  mqtt     connected for 2m 5s',
      '  buffer   1,234 messages, 2.1 MiB, oldest 3m 12s old',
      '  process  up 3h 2m, rss 61.0 MiB, event-loop lag 1.5 ms, last commit 0.8 ms',
      '',
      'DEVICE   STATE  LAST OK   POLL    ERROR',
      '-------  -----  --------  ------  -----',
      'press-1  up     0.4s ago  4.2 ms  -',
      'drives   up     1.5s ago  31 ms   -',
    ]);
  });

  it('says what is wrong when degraded', () => {
    const h = health({
      status: 'degraded',
      mqtt: { connected: false, since: NOW - 5 * 60_000, last_error: 'connect ECONNREFUSED 127.0.0.1:8883' },
      buffer: { writable: true, messages: 1, bytes: 300, oldest_ts: NOW - 2 * 86_400_000 - 4 * 3_600_000, dropped: { max_age: 3, when_full: 0 } },
      devices: {
        'press-1': { up: true, last_ok_ts: NOW - 400, error: null, last_poll_ms: 4.2 },
        drives: { up: false, last_ok_ts: null, error: 'timeout after 1000 ms', last_poll_ms: null },
      },
    });
    expect(formatHealth(h, ctx)).toEqual([
      'floorgate line1-gw01 at http://127.0.0.1:9102: DEGRADED (broker unreachable, 1 device down)',
      '  mqtt     DISCONNECTED for 5m 0s (last error: connect ECONNREFUSED 127.0.0.1:8883)',
      '  buffer   1 message, 300 B, oldest 2d 4h old; dropped 3 (max_age)',
      '  process  up 3h 2m, rss 61.0 MiB, event-loop lag 1.5 ms, last commit 0.8 ms',
      '',
      'DEVICE   STATE  LAST OK   POLL    ERROR',
      '-------  -----  --------  ------  ---------------------',
      'press-1  up     0.4s ago  4.2 ms  -',
      'drives   DOWN   never     -       timeout after 1000 ms',
    ]);
  });

  it('is loud about a buffer that cannot be written', () => {
    const h = health({ status: 'failing', buffer: { ...health().buffer, writable: false, messages: 0, bytes: 0, oldest_ts: null }, devices: {} });
    expect(formatHealth(h, ctx)).toEqual([
      'floorgate line1-gw01 at http://127.0.0.1:9102: FAILING: the buffer cannot be written, readings are being lost',
      '  mqtt     connected for 2m 5s',
      '  buffer   0 messages, 0 B; CANNOT BE WRITTEN',
      '  process  up 3h 2m, rss 61.0 MiB, event-loop lag 1.5 ms, last commit 0.8 ms',
      '',
      'no devices configured',
    ]);
  });

  it('says whether the clock is trusted, why not, and its steps', () => {
    const clock = (c: Partial<NonNullable<Health['clock']>>) => formatHealth(health({
      clock: { synchronized: true, trusted: true, reason: null, steps: 0, last_step: null, boot_id: 'b', ...c },
    }), ctx)[4];
    expect(clock({})).toBe('  clock    trusted');
    expect(clock({ synchronized: false, trusted: false, reason: 'not synchronised' }))
      .toBe('  clock    NOT TRUSTED (not synchronised): readings go out flagged "unsynced"');
    expect(clock({ steps: 2, last_step: { ts: NOW, by_ms: -3 * 86_400_000 } })).toBe('  clock    trusted; 2 steps, last -3d 0h');
    // A step is a size, shown rounded to its unit: 3 days less a few ms is 3 days, not 2d 23h.
    expect(clock({ steps: 1, last_step: { ts: NOW, by_ms: 3 * 86_400_000 - 5 } })).toBe('  clock    trusted; 1 step, last +3d 0h');
    expect(clock({ steps: 1, last_step: { ts: NOW, by_ms: 90 * 60_000 - 20_000 } })).toBe('  clock    trusted; 1 step, last +1h 30m');
  });

  it('reads the bare reference §5 shape from a daemon that sends nothing more', () => {
    const bare = {
      status: 'ok', mqtt: { connected: true }, buffer: { messages: 0, bytes: 4096, oldest_ts: null },
      devices: { 'press-1': { up: true, last_ok_ts: NOW - 61_000, error: null } },
    } as unknown as Health;
    expect(formatHealth(bare, ctx)).toEqual([
      'floorgate line1-gw01 at http://127.0.0.1:9102: ok',
      '  mqtt     connected',
      '  buffer   0 messages, 4.0 KiB',
      '',
      'DEVICE   STATE  LAST OK    POLL  ERROR',
      '-------  -----  ---------  ----  -----',
      'press-1  up     1m 1s ago  -     -',
    ]);
  });
});

describe('runStatus against a running HTTP listener', () => {
  const log = pino({ level: 'silent' });
  let dir: string;
  let current: Health;
  let server: HttpServer;
  let lines: string[];
  const out = (line: string) => lines.push(line);

  function writeConfig(listen: string, extraHttp = ''): string {
    const file = path.join(dir, `floorgate-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(file, [
      'gateway:',
      '  id: gw-status',
      `  data_dir: ${dir}/data`,
      'mqtt:',
      '  url: mqtt://127.0.0.1:1883',
      'http:',
      `  listen: ${listen}`,
      extraHttp,
      'devices:',
      '  - name: press-1',
      '    driver: modbus_tcp',
      '    host: 127.0.0.1',
      '    port: 5020',
      '    tags:',
      '      - { name: temperature, area: holding, address: 0, type: uint16 }',
      '',
    ].join('\n'));
    return file;
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-status-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    lines = [];
    current = { ...health(), mqtt: { connected: true, since: Date.now() - 10_000, last_error: null } };
    server = await startHttpServer({ host: '127.0.0.1', port: 0, health: { health: () => current }, metrics: new Metrics(false), log });
  });
  afterEach(() => server.close());

  it('prints the table and exits 0 while healthy', async () => {
    const code = await runStatus(writeConfig(`127.0.0.1:${server.port}`), out);
    expect(lines[0]).toBe(`floorgate gw-status at http://127.0.0.1:${server.port}: ok`);
    expect(lines).toContainEqual(expect.stringMatching(/^DEVICE +STATE +LAST OK +POLL +ERROR$/));
    expect(lines).toContainEqual(expect.stringMatching(/^press-1 +up +\d.* ago +4\.2 ms +-$/));
    expect(code).toBe(0);
  });

  it('exits 1 while degraded', async () => {
    current = { ...current, status: 'degraded', devices: { 'press-1': { up: false, last_ok_ts: null, error: 'ECONNREFUSED', last_poll_ms: null } } };
    expect(await runStatus(writeConfig(`127.0.0.1:${server.port}`), out)).toBe(1);
    expect(lines[0]).toMatch(/: DEGRADED \(1 device down\)$/);
  });

  it('exits 1 when the daemon answers 503 (buffer not writable)', async () => {
    current = { ...current, status: 'failing', buffer: { ...current.buffer, writable: false } };
    expect(await runStatus(writeConfig(`127.0.0.1:${server.port}`), out)).toBe(1);
    expect(lines[0]).toMatch(/: FAILING: the buffer cannot be written/);
  });

  it('asks over loopback when the daemon listens on every address', async () => {
    const code = await runStatus(writeConfig(`0.0.0.0:${server.port}`, '  allow_remote: true'), out);
    expect(lines[0]).toBe(`floorgate gw-status at http://127.0.0.1:${server.port}: ok`);
    expect(code).toBe(0);
  });

  it('says plainly when nothing listens there, and exits 1', async () => {
    const port = await freePort();
    expect(await runStatus(writeConfig(`127.0.0.1:${port}`), out)).toBe(1);
    expect(lines).toEqual([
      `floorgate is not running or its HTTP listener is off (http.listen): nothing answers at http://127.0.0.1:${port}/healthz (ECONNREFUSED)`,
    ]);
  });

  it('notices another service on the port', async () => {
    const other = http.createServer((_req, res) => res.end('<html>router admin</html>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as net.AddressInfo).port;
    try {
      expect(await runStatus(writeConfig(`127.0.0.1:${port}`), out)).toBe(1);
      expect(lines).toEqual([`http://127.0.0.1:${port}/healthz answered HTTP 200, but not with floorgate's health report: is another service using that port?`]);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('gives up on a listener that never answers after 3 s', async () => {
    const sockets: net.Socket[] = [];
    const mute = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    const port = (mute.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      expect(await runStatus(writeConfig(`127.0.0.1:${port}`), out)).toBe(1);
      expect(Date.now() - started).toBeLessThan(6000);
      expect(lines).toEqual([`floorgate did not answer at http://127.0.0.1:${port}/healthz within 3 s: it is running but stalled, or something else holds the port`]);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => mute.close(resolve));
    }
  });

  it('exits 78 when http.listen is off', async () => {
    const file = writeConfig('false');
    expect(await runStatus(file, out)).toBe(78);
    expect(lines).toEqual([`${file}: http.listen is false, so the daemon serves no health endpoint to ask; set it (e.g. 127.0.0.1:9102) and restart floorgate`]);
  });

  it('exits 78 with FILE:LINE:COL problems for an invalid config', async () => {
    const file = writeConfig(`127.0.0.1:${server.port}`);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('  id: gw-status', '  id: gw status!'));
    expect(await runStatus(file, out)).toBe(78);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(new RegExp(`^${escape(file)}:\\d+:\\d+: `));
    expect(lines.join('\n')).toContain('gateway.id');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
