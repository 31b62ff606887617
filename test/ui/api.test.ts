import { createHash } from 'node:crypto';
import vm from 'node:vm';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import { startHttpServer, type HttpServer } from '../../src/http/server.js';
import { startStatusUi } from '../../src/http/ui/routes.js';
import { FakeRuntime, HOSTILE, healthy } from './fake-runtime.js';
import { request as httpRequest, type HttpResponse } from '../helpers/http.js';

const log = pino({ level: 'silent' });

let source: FakeRuntime;
let server: HttpServer;
let base: string;

beforeEach(async () => {
  source = new FakeRuntime();
  server = await startHttpServer({ host: '127.0.0.1', port: 0, health: source, status: source, metrics: new Metrics(false), log });
  base = `http://127.0.0.1:${server.port}`;
});

afterEach(async () => {
  await server.close();
});

function request(method: string, path: string): Promise<HttpResponse> {
  return httpRequest(method, `${base}${path}`);
}

async function json(path: string): Promise<any> {
  const res = await request('GET', path);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.headers['cache-control']).toBe('no-store');
  return JSON.parse(res.body);
}

describe('GET /', () => {
  it('serves one self-contained page that fetches nothing from elsewhere', async () => {
    const res = await request('GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toMatch(/^<!doctype html>/);
    // No CDN, no font service, no absolute URL of any kind; the data comes from api/status.
    expect(res.body).not.toMatch(/(https?:)?\/\/[a-z0-9]/i);
    expect(res.body).not.toMatch(/<(link|script|img)[^>]+(src|href)="(?!data:)/i);
    expect(res.body).toContain("fetch('api/status?'");
    expect(Buffer.byteLength(res.body)).toBeLessThan(32 * 1024);
  });

  it('allows exactly its own inline script and style, and connections to itself only', async () => {
    const res = await request('GET', '/');
    const csp = String(res.headers['content-security-policy']);
    const script = /<script>([\s\S]*)<\/script>/.exec(res.body)![1];
    const style = /<style>([\s\S]*)<\/style>/.exec(res.body)![1];
    const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
    expect(csp).toContain(`script-src ${hash(script)}`);
    expect(csp).toContain(`style-src ${hash(style)}`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe');
    // The script at least compiles (the browser tests run it).
    expect(() => new vm.Script(script)).not.toThrow();
    // Device data reaches the DOM as text only.
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });

  it('answers HEAD without a body', async () => {
    const res = await request('HEAD', '/');
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(1000);
    expect(res.body).toBe('');
  });
});

describe('GET /api/status', () => {
  it('carries the health report, the drain estimate and every device with its tags', async () => {
    const before = Date.now();
    const body = await json('/api/status');
    expect(body.now).toBeGreaterThanOrEqual(before);
    expect(body.now).toBeLessThanOrEqual(Date.now());
    const h = healthy();
    expect(body).toMatchObject({
      status: 'degraded',
      mqtt: { connected: true, last_error: null },
      buffer: { writable: true, messages: 1234, bytes: 5_242_880, dropped: { full: 0, max_age: 7 } },
      process: h.process,
    });
    expect(body.buffer.drain).toEqual({ rate_per_s: null, backlog_peak: null, progress: null, eta_s: null });
    expect(Object.keys(body.devices)).toEqual(['press-1', 'drives']);
    expect(body.devices.drives).toMatchObject({ up: false, error: `timeout after 1000 ms ${HOSTILE}`, last_poll_ms: null });
    expect(body.devices.drives.tags).toEqual([
      { tag: 'speed', value: null, quality: 'bad', ts: source.last.drives[0].ts, error: 'ECONNREFUSED 127.0.0.1:502' },
    ]);
  });

  it('encodes values as the MQTT payload does: big int64 as a decimal string, NaN as bad', async () => {
    const body = await json('/api/status');
    const byTag = Object.fromEntries(body.devices['press-1'].tags.map((r: { tag: string }) => [r.tag, r]));
    expect(byTag.temperature).toMatchObject({ value: 21.5, quality: 'good' });
    expect(byTag.energy_wh.value).toBe('9223372036854775807');
    expect(byTag.small_int64.value).toBe(42);
    expect(byTag.recipe.value).toBe(HOSTILE);
    expect(byTag.ratio).toMatchObject({ value: null, quality: 'bad', error: 'value is NaN' });
    expect(byTag.profile).toMatchObject({ value: [1, 2.5, null], quality: 'uncertain' });
  });

  it('lists a device without readings yet with an empty tag list', async () => {
    source.current = { ...healthy(), devices: { ...healthy().devices, oven: { up: false, last_ok_ts: null, error: null, last_poll_ms: null } } };
    const body = await json('/api/status');
    expect(body.devices.oven).toEqual({ up: false, last_ok_ts: null, error: null, last_poll_ms: null, tags: [] });
  });

  it('follows the source from one request to the next', async () => {
    expect((await json('/api/status')).buffer.messages).toBe(1234);
    source.current = { ...healthy(), buffer: { ...healthy().buffer, messages: 99 } };
    source.last = { ...source.last, 'press-1': [{ tag: 'temperature', value: 22.25, quality: 'good', ts: 1 }] };
    const body = await json('/api/status');
    expect(body.buffer.messages).toBe(99);
    expect(body.devices['press-1'].tags).toEqual([{ tag: 'temperature', value: 22.25, quality: 'good', ts: 1 }]);
  });

  it('cuts the answer short when the source throws after its first part went out, and serves the next request', async () => {
    const table = source.tagTable.bind(source);
    source.tagTable = () => {
      const t = table();
      return { ...t, devices: t.devices.map((d) => (d.name === 'drives' ? { ...d, latestOf: () => { throw new Error('runner gone'); } } : d)) };
    };
    // Whether or not the headers were out yet, the client cannot take a cut answer for a whole one.
    await expect(fetch(`${base}/api/status`).then((res) => res.text())).rejects.toThrow();
    expect((await request('GET', '/api/health')).status).toBe(200);
  });

  it('answers 500 while the source throws, and recovers', async () => {
    source.fail = true;
    const res = await request('GET', '/api/status');
    expect(res.status).toBe(500);
    expect(res.body).toContain('internal error');
    source.fail = false;
    expect((await request('GET', '/api/status')).status).toBe(200);
  });
});

describe('GET /api/health and /api/tags', () => {
  it('/api/health is the report without tags, and 200 even while the buffer is failing', async () => {
    source.current = { ...healthy(), status: 'failing', buffer: { ...healthy().buffer, writable: false } };
    const body = await json('/api/health');
    expect(body).toMatchObject({ status: 'failing', buffer: { writable: false, drain: { eta_s: null } } });
    expect(body.devices).toEqual(source.current.devices);
    expect(body.devices['press-1'].tags).toBeUndefined();
    // /healthz keeps its reference status code.
    expect((await request('GET', '/healthz')).status).toBe(503);
  });

  it('/api/tags lists the last readings per device, filtered by exact device and tag names', async () => {
    const all = await json('/api/tags');
    expect(Object.keys(all.tags)).toEqual(['press-1', 'drives']);
    expect(all.tags['press-1']).toHaveLength(6);
    expect(typeof all.now).toBe('number');

    const one = await json('/api/tags?device=press-1&tag=temperature');
    expect(one.tags).toEqual({ 'press-1': [expect.objectContaining({ tag: 'temperature', value: 21.5 })] });
    expect((await json('/api/tags?tag=speed')).tags).toEqual({ 'press-1': [], drives: [expect.objectContaining({ tag: 'speed' })] });
    expect((await json('/api/tags?device=press')).tags).toEqual({});
    expect((await json(`/api/tags?device=${encodeURIComponent('press-1')}&tag=${encodeURIComponent('temp')}`)).tags).toEqual({ 'press-1': [] });
  });
});

describe('read-only and bounded', () => {
  it.each(['/api', '/api/', '/api/status/x', '/api/devices/press-1', '/index.html'])('GET %s is 404 and names what exists', async (path) => {
    const res = await request('GET', path);
    expect(res.status).toBe(404);
    expect(res.body).toBe('not found: floorgate serves /, /api/status, /api/health, /api/tags, /healthz and /metrics\n');
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])('%s is 405 on the page and the API', async (method) => {
    for (const path of ['/', '/api/status', '/api/tags']) {
      const res = await request(method, path);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
    }
  });

  it('samples the source for the drain estimate only while a page asks, and stops on close', async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const quiet = new FakeRuntime();
    const ui = startStatusUi(quiet, { sampleMs: 50, idleMs: 400 });
    try {
      await sleep(300);
      expect(quiet.healthCalls).toBe(0);
      await ui.answer('/api/status', new URLSearchParams());
      const asked = quiet.healthCalls;
      await sleep(250);
      expect(quiet.healthCalls - asked).toBeGreaterThanOrEqual(2);
      await sleep(500);
      const idle = quiet.healthCalls;
      await sleep(300);
      expect(quiet.healthCalls).toBe(idle);

      await ui.answer('/api/health', new URLSearchParams());
      const again = quiet.healthCalls;
      await sleep(250);
      expect(quiet.healthCalls - again).toBeGreaterThanOrEqual(2);
    } finally {
      ui.stop();
    }
    const stopped = quiet.healthCalls;
    await sleep(200);
    expect(quiet.healthCalls).toBe(stopped);
  });

  it('without a status source the listener serves only /healthz and /metrics', async () => {
    const plain = await startHttpServer({ host: '127.0.0.1', port: 0, health: source, metrics: new Metrics(false), log });
    try {
      for (const path of ['/', '/api/status']) {
        const { status, body } = await httpRequest('GET', `http://127.0.0.1:${plain.port}${path}`);
        expect({ status, body }).toEqual({ status: 404, body: 'not found: floorgate serves /healthz and /metrics\n' });
      }
    } finally {
      await plain.close();
    }
  });
});
