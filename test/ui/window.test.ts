/**
 * GET /api/status with window parameters, over HTTP against a runtime-shaped source: the filter,
 * the window, the totals, and only the rows that changed since the version a page holds.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../src/driver/contract.js';
import { Metrics } from '../../src/metrics.js';
import { startHttpServer, type HttpServer } from '../../src/http/server.js';
import { request } from '../helpers/http.js';
import { FakeRuntime, healthy } from './fake-runtime.js';

const log = pino({ level: 'silent' });

let source: FakeRuntime;
let server: HttpServer;

beforeEach(async () => {
  source = new FakeRuntime();
  server = await startHttpServer({ host: '127.0.0.1', port: 0, health: source, status: source, metrics: new Metrics(false), log });
});
afterEach(async () => {
  await server.close();
});

interface Row { device: string; tag: string; value?: unknown; quality?: string; ts?: number; changed_ts?: number; error?: string }
interface Window { version: number; full: boolean; total: number; matched: number; offset: number; limit: number; rows: Row[] }

async function status(query: string): Promise<{ devices: Record<string, unknown>; tags: Window }> {
  const res = await request('GET', `http://127.0.0.1:${server.port}/api/status?${query}`);
  expect(res.status).toBe(200);
  return JSON.parse(res.body);
}

const names = (w: Window) => w.rows.map((r) => `${r.device}/${r.tag}`);

function bigDevice(n: number, ts = Date.now()): Reading[] {
  return Array.from({ length: n }, (_, i) => ({ tag: `t${i}`, value: i, quality: 'good' as const, ts }));
}

describe('GET /api/status?filter=&offset=&limit=&since=', () => {
  it('sends the window of the matched tags in config order, with the totals and the listed devices', async () => {
    source.last = { ...source.last, big: bigDevice(250) };
    source.current = { ...healthy(), devices: { ...healthy().devices, big: { up: true, last_ok_ts: 1, error: null, last_poll_ms: 2 } } };

    const first = await status('limit=3');
    expect(first.tags).toMatchObject({ full: true, total: 257, matched: 257, offset: 0, limit: 3 });
    expect(names(first.tags)).toEqual(['press-1/temperature', 'press-1/energy_wh', 'press-1/small_int64']);
    expect(Object.keys(first.devices)).toEqual(['press-1', 'drives', 'big']);

    const across = await status('offset=5&limit=4');
    expect(names(across.tags)).toEqual(['press-1/profile', 'drives/speed', 'big/t0', 'big/t1']);

    const filtered = await status('filter=BIG/T24&limit=100');
    expect(filtered.tags).toMatchObject({ total: 257, matched: 11 });
    expect(names(filtered.tags)).toEqual(['big/t24', ...Array.from({ length: 10 }, (_, i) => `big/t24${i}`)]);
    expect(Object.keys(filtered.devices)).toEqual(['big']);

    // A device listed by its name even when none of its tags match, as the page always did.
    const byDevice = await status('filter=drives/nothing');
    expect(byDevice.tags.rows).toEqual([]);
    expect(Object.keys(byDevice.devices)).toEqual(['drives']);

    const page3 = await status('filter=big&offset=200&limit=100');
    expect(page3.tags.rows).toHaveLength(50);
    expect(page3.tags.rows[0]).toEqual({ device: 'big', tag: 't200', value: 200, quality: 'good', ts: expect.any(Number), changed_ts: expect.any(Number) });
  });

  it('after `since`, sends only the rows whose value, quality or error changed', async () => {
    const first = await status('limit=10');
    expect(first.tags.rows).toHaveLength(7);

    // Read again: a new reading with the same value is not a change; another value is.
    const later = Date.now() + 1000;
    source.last = {
      ...source.last,
      'press-1': source.last['press-1'].map((r) => ({ ...r, ts: later, value: r.tag === 'temperature' ? 22.75 : r.value })),
    };
    const delta = await status(`limit=10&since=${first.tags.version}`);
    expect(delta.tags.full).toBe(false);
    expect(delta.tags.rows).toEqual([{ device: 'press-1', tag: 'temperature', value: 22.75, quality: 'good', ts: later, changed_ts: later }]);
    expect(delta.tags.version).toBeGreaterThan(first.tags.version);
    // The report and the devices come every time.
    expect(Object.keys(delta.devices)).toEqual(['press-1', 'drives']);

    const none = await status(`limit=10&since=${delta.tags.version}`);
    expect(none.tags.rows).toEqual([]);

    source.last = { ...source.last, drives: [{ tag: 'speed', value: null, quality: 'bad', ts: later, error: 'timeout' }] };
    const error = await status(`limit=10&since=${none.tags.version}`);
    expect(names(error.tags)).toEqual(['drives/speed']);
  });

  it('sends the whole window again when the tags were laid out anew (a reload) after `since`', async () => {
    const first = await status('limit=10');
    source.last = { ...source.last, drives: [...source.last.drives, { tag: 'torque', value: 5, quality: 'good', ts: 1 }] };
    const after = await status(`limit=10&since=${first.tags.version}`);
    expect(after.tags).toMatchObject({ full: true, total: 8 });
    expect(names(after.tags)).toContain('drives/torque');
    expect(after.tags.rows).toHaveLength(8);
  });

  it('sends the whole window for a version it never gave out (a page that outlived a restart)', async () => {
    const first = await status('limit=10');
    const later = await status(`limit=10&since=${first.tags.version + 1_000_000}`);
    expect(later.tags).toMatchObject({ full: true });
    expect(later.tags.rows).toHaveLength(7);
  });

  it('keeps the answer of a bare /api/status as it was: every device with every tag', async () => {
    const res = await request('GET', `http://127.0.0.1:${server.port}/api/status`);
    const body = JSON.parse(res.body);
    expect(body.tags).toBeUndefined();
    expect(body.devices['press-1'].tags).toHaveLength(6);
  });

  it('cuts the window at 1,000 rows and reads mangled numbers as their defaults', async () => {
    source.last = { big: bigDevice(1500) };
    const big = await status('limit=5000');
    expect(big.tags.limit).toBe(1000);
    expect(big.tags.rows).toHaveLength(1000);
    const mangled = await status('offset=-3&limit=x&since=1e400');
    expect(mangled.tags).toMatchObject({ offset: 0, limit: 100, full: true });
  });
});
