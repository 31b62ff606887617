/**
 * The status page in a real headless Chromium against a runtime-shaped source whose state the
 * test sets: rendering, live updates, escaping, filtering, a lost gateway, the drain display
 * and a phone-sized screen.
 */
import { pino } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import { startHttpServer, type HttpServer } from '../../src/http/server.js';
import { artifact, chromiumMissing, launchChromium, type Chromium } from './chromium.js';
import { FakeRuntime, HOSTILE, healthy } from './fake-runtime.js';

const log = pino({ level: 'silent' });

let chrome: Chromium;
let source: FakeRuntime;
let server: HttpServer;
let base: string;
let context: BrowserContext;
let page: Page;
/** Every URL the page asked for. */
let requested: string[];

describe.skipIf(chromiumMissing !== null)(`status page in Chromium${chromiumMissing ? ` (skipped: ${chromiumMissing})` : ''}`, () => {
  beforeAll(async () => {
    chrome = await launchChromium();
  });
  afterAll(async () => {
    await chrome?.close();
  });

  beforeEach(async () => {
    source = new FakeRuntime();
    server = await startHttpServer({ host: '127.0.0.1', port: 0, health: source, status: source, metrics: new Metrics(false), log });
    base = `http://127.0.0.1:${server.port}`;
    context = await chrome.browser.newContext({ viewport: { width: 1280, height: 900 } });
    ({ page, requested } = await open(context));
  });
  afterEach(async () => {
    await context.close();
    await server.close();
  });

  async function open(ctx: BrowserContext, hash = ''): Promise<{ page: Page; requested: string[] }> {
    const p = await ctx.newPage();
    const urls: string[] = [];
    p.on('request', (req) => urls.push(req.url()));
    await p.goto(`${base}/${hash}`);
    await p.locator('#status').filter({ hasText: 'degraded' }).waitFor({ timeout: 5000 });
    return { page: p, requested: urls };
  }

  /** The bodies of the api/status answers the page receives from now on. */
  function watchStatus(): { tags: { full: boolean; rows: { device: string; tag: string; value?: unknown }[] } }[] {
    const bodies: { tags: { full: boolean; rows: { device: string; tag: string; value?: unknown }[] } }[] = [];
    page.on('response', (res) => {
      if (new URL(res.url()).pathname === '/api/status') void res.json().then((b) => bodies.push(b), () => undefined);
    });
    return bodies;
  }

  const row = (table: string, text: string) => page.locator(`#${table} tbody tr`, { has: page.locator('td', { hasText: new RegExp(`^${text}$`) }) });
  const cell = (table: string, text: string, n: number) => row(table, text).locator(`td:nth-child(${n})`);

  it('shows each serial line\'s planned load beside its measured busy ratio, and no such section without lines', async () => {
    await expect.poll(() => page.locator('#devices tbody tr').count()).toBe(2);
    expect(await page.locator('#lines').isHidden()).toBe(true);
    source.current = {
      ...healthy(),
      lines: { '/dev/ttyUSB0': { planned_load: 2.9375, busy_ratio: 0.97 }, '/dev/ttyUSB1': { planned_load: 0.05, busy_ratio: null } },
    };
    await expect.poll(() => page.locator('#line-table tbody tr').count()).toBe(2);
    expect(await page.locator('#lines').isVisible()).toBe(true);
    expect(await cell('line-table', '/dev/ttyUSB0', 2).textContent()).toBe('294 %');
    expect(await cell('line-table', '/dev/ttyUSB0', 2).getAttribute('class')).toContain('bad');
    expect(await cell('line-table', '/dev/ttyUSB0', 3).textContent()).toBe('97 %');
    expect(await cell('line-table', '/dev/ttyUSB1', 2).textContent()).toBe('5.0 %');
    expect(await cell('line-table', '/dev/ttyUSB1', 3).textContent()).toBe('\u2014');
  });

  it('shows the uplink, the buffer, the process, every device and every tag', async () => {
    await expect.poll(() => page.locator('#tags tbody tr').count()).toBe(7);
    expect(await page.textContent('#mqtt-state')).toBe('connected');
    expect(await page.textContent('#mqtt-since')).toMatch(/^1 min \d s ago$/);
    expect(await page.textContent('#buf-depth')).toBe('1,234 messages');
    expect(await page.textContent('#buf-bytes')).toBe('5.00 MiB');
    expect(await page.textContent('#buf-oldest')).toMatch(/^\d\.\d s ago$/);
    expect(await page.textContent('#buf-dropped')).toBe('full 0 · max_age 7');
    await expect.poll(() => page.textContent('#drain'), { timeout: 4000 }).toBe('no replay running');
    expect(await page.textContent('#proc-rss')).toBe('61.0 MiB');
    expect(await page.textContent('#proc-lag')).toBe('1.5 ms');
    expect(await page.textContent('#proc-uptime')).toBe('1 h 2 min');
    expect(await page.textContent('#proc-clock')).toBe('NOT TRUSTED: not synchronised (readings flagged)');

    expect(await row('devices', 'press-1').getAttribute('class')).toBe('up');
    expect(await cell('devices', 'press-1', 4).textContent()).toBe('4.3 ms');
    expect(await row('devices', 'drives').getAttribute('class')).toBe('down');
    expect(await cell('devices', 'drives', 2).textContent()).toBe('down');
    expect(await cell('devices', 'drives', 3).textContent()).toMatch(/^1 min 3\d s ago$/);

    expect(await cell('tags', 'temperature', 3).textContent()).toBe('21.5');
    expect(await cell('tags', 'temperature', 4).textContent()).toBe('good');
    expect(await cell('tags', 'temperature', 5).textContent()).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
    expect(await cell('tags', 'energy_wh', 3).textContent()).toBe('9223372036854775807');
    expect(await cell('tags', 'ratio', 3).textContent()).toBe('value is NaN');
    expect(await cell('tags', 'ratio', 4).textContent()).toBe('bad');
    expect(await cell('tags', 'profile', 3).textContent()).toBe('[1,2.5,null]');
    expect(await cell('tags', 'speed', 3).textContent()).toBe('ECONNREFUSED 127.0.0.1:502');
    expect(await page.textContent('#tag-count')).toBe('(7)');

    // Nothing but this listener was asked for anything.
    expect(requested.length).toBeGreaterThan(1);
    for (const url of requested) expect(url.startsWith(`${base}/`)).toBe(true);
  });

  it('renders device data as text: markup in a value or an error never becomes markup', async () => {
    await expect.poll(() => cell('tags', 'recipe', 3).textContent()).toBe(HOSTILE);
    expect(await cell('devices', 'drives', 5).textContent()).toBe(`timeout after 1000 ms ${HOSTILE}`);
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it('marks a device that goes down red, and updates values, within a poll', async () => {
    const red = (name: string) => row('devices', name).evaluate((tr) => getComputedStyle(tr).backgroundColor);
    const normal = await red('press-1');
    expect(await red('drives')).not.toBe(normal);

    source.current = { ...source.current, devices: { ...source.current.devices, 'press-1': { up: false, last_ok_ts: Date.now() - 2000, error: 'timeout after 500 ms', last_poll_ms: null } } };
    source.last = { ...source.last, 'press-1': source.last['press-1'].map((r) => (r.tag === 'temperature' ? { ...r, value: 22.75, ts: Date.now() } : r)) };
    const changed = Date.now();
    await expect.poll(() => row('devices', 'press-1').getAttribute('class'), { timeout: 3000 }).toBe('down');
    await expect.poll(() => cell('tags', 'temperature', 3).textContent(), { timeout: 3000 }).toBe('22.75');
    expect(Date.now() - changed).toBeLessThan(2500);
    expect(await red('press-1')).toBe(await red('drives'));
    expect(await cell('devices', 'press-1', 5).textContent()).toBe('timeout after 500 ms');
  });

  it('filters by device or tag name, and keeps the filter in the address', async () => {
    const tagNames = () => page.locator('#tags tbody tr td:nth-child(2)').allTextContents();
    await page.fill('#filter', 'TEMP');
    await expect.poll(() => page.textContent('#tag-count')).toBe('(1 of 7)');
    expect(await page.locator('#tags tbody tr').count()).toBe(1);
    expect(await page.locator('#devices tbody tr').count()).toBe(1);

    await page.fill('#filter', 'drives');
    await expect.poll(tagNames).toEqual(['speed']);
    expect(await page.locator('#devices tbody tr td:nth-child(1)').allTextContents()).toEqual(['drives']);

    await page.fill('#filter', 'press/e');
    await expect.poll(tagNames).toEqual(['temperature', 'energy_wh', 'recipe', 'profile']);
    expect(new URL(page.url()).hash).toBe('#press%2Fe');

    const again = await open(context, '#press%2Fe');
    expect(await again.page.inputValue('#filter')).toBe('press/e');
    await expect.poll(() => again.page.locator('#tags tbody tr').count()).toBe(4);

    await page.fill('#filter', '');
    await expect.poll(() => page.locator('#tags tbody tr').count()).toBe(7);
    expect(new URL(page.url()).hash).toBe('');

    // The gateway did the filtering: the page was sent the matching rows only.
    const asked = requested.filter((u) => u.includes('filter=press%2Fe'));
    expect(asked.length).toBeGreaterThan(0);
  });

  it('says so when the gateway stops answering, and recovers', async () => {
    source.fail = true;
    await page.locator('#conn').filter({ hasText: /^no answer for \d+\.\d s \(HTTP 500\): values are stale$/ }).waitFor({ timeout: 6000 });
    expect(await page.getAttribute('body', 'class')).toBe('stale');
    source.fail = false;
    await page.locator('#conn').filter({ hasText: /^live$/ }).waitFor({ timeout: 3000 });
    expect(await page.getAttribute('body', 'class')).toBe('');
  });

  it('shows replay progress and an ETA while a backlog drains', async () => {
    // An outage has left 50,000 messages; 1.5 s from now the uplink returns and they drain at 4,000/s net.
    const reconnect = performance.now() + 1500;
    const h = healthy();
    source.health = () => {
      const s = (performance.now() - reconnect) / 1000;
      if (s < 0) return { ...h, mqtt: { connected: false, since: null, last_error: 'ECONNREFUSED' }, buffer: { ...h.buffer, messages: 50_000 } };
      return { ...h, buffer: { ...h.buffer, messages: Math.round(Math.max(0, 50_000 - 4000 * s)) } };
    };
    await page.locator('#drain').filter({ hasText: 'held until the uplink returns' }).waitFor({ timeout: 3000 });
    await page.locator('#drain-bar').waitFor({ state: 'visible', timeout: 8000 });
    const text = await page.textContent('#drain');
    expect(text).toMatch(/^\d+% of \d{2},\d{3} · \d,\d{3} msg\/s · ETA \d+\.?\d* s$/);
    const [, percent, rate, eta] = /^(\d+)% of [\d,]+ · ([\d,]+) msg\/s · ETA ([\d.]+) s$/.exec(text!)!;
    expect(Number(rate.replace(',', ''))).toBeGreaterThan(3500);
    expect(Number(rate.replace(',', ''))).toBeLessThan(4500);
    expect(Number(percent)).toBeGreaterThan(0);
    expect(Number(eta)).toBeLessThan(12);
    expect(await page.locator('#drain-bar').evaluate((el) => (el as HTMLProgressElement).value)).toBeGreaterThan(0);
    await page.locator('.cards').screenshot({ path: artifact('status-page-replay.png') });
  });

  it('shows 100 tag rows a page, asks the gateway for that page only, and pages through the rest', async () => {
    const now = Date.now();
    source.current = { ...source.current, devices: { ...source.current.devices, big: { up: true, last_ok_ts: now, error: null, last_poll_ms: 9 } } };
    source.last = { ...source.last, big: Array.from({ length: 600 }, (_, i) => ({ tag: `t${i}`, value: i, quality: 'good' as const, ts: now })) };
    await expect.poll(() => page.textContent('#tag-range'), { timeout: 3000 }).toBe('1–100 of 607');
    expect(await page.locator('#tags tbody tr').count()).toBe(100);
    expect(await page.textContent('#tag-count')).toBe('(607)');
    expect(await page.isDisabled('#prev')).toBe(true);

    const bodies = watchStatus();
    await page.click('#next');
    await expect.poll(() => page.textContent('#tag-range')).toBe('101–200 of 607');
    expect(await page.locator('#tags tbody tr td:nth-child(2)').first().textContent()).toBe('t93');
    // Each answer carried one page of rows at most.
    for (const b of bodies) expect(b.tags.rows.length).toBeLessThanOrEqual(100);

    await page.fill('#filter', 'big/t59');
    await expect.poll(() => page.textContent('#tag-count')).toBe('(11 of 607)');
    expect(await page.locator('#tags tbody tr').count()).toBe(11);
    expect(await page.locator('#pager').isHidden()).toBe(true);

    await page.fill('#filter', 't');
    await expect.poll(() => page.textContent('#tag-range')).toBe('1–100 of 603');
    for (let i = 0; i < 6; i++) await page.click('#next');
    await expect.poll(() => page.textContent('#tag-range')).toBe('601–603 of 603');
    expect(await page.isDisabled('#next')).toBe(true);
  });

  it('after the first answer is sent only what changed: a changed value shows up, an unchanged one is not sent again', async () => {
    await expect.poll(() => cell('tags', 'temperature', 3).textContent()).toBe('21.5');
    const bodies = watchStatus();
    // Read again with the same values: nothing changed.
    const reread = () => Object.fromEntries(Object.entries(source.last).map(([d, rs]) => [d, rs.map((r) => ({ ...r, ts: Date.now() }))]));
    source.last = reread();
    await expect.poll(() => bodies.length, { timeout: 4000 }).toBeGreaterThanOrEqual(2);
    source.last = { ...reread(), 'press-1': reread()['press-1'].map((r) => (r.tag === 'temperature' ? { ...r, value: 23.5 } : r)) };
    await expect.poll(() => cell('tags', 'temperature', 3).textContent(), { timeout: 4000 }).toBe('23.5');
    await expect.poll(() => bodies.length, { timeout: 4000 }).toBeGreaterThanOrEqual(4);

    const sent = bodies.flatMap((b) => b.tags.rows.map((r) => `${r.device}/${r.tag}=${String(r.value)}`));
    expect(sent).toEqual(['press-1/temperature=23.5']);
    for (const b of bodies) expect(b.tags.full).toBe(false);
    // Unchanged rows stay on the page as they were.
    expect(await cell('tags', 'energy_wh', 3).textContent()).toBe('9223372036854775807');
    expect(await page.locator('#tags tbody tr').count()).toBe(7);
  });

  it('fits a phone screen: no sideways scrolling, one compact block per tag', async () => {
    const phone = await chrome.browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      const { page: p } = await open(phone);
      await expect.poll(() => p.locator('#tags tbody tr').count()).toBe(7);
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await p.locator('#tags thead').isVisible()).toBe(false);
      const box = await p.locator('#tags tbody tr').first().boundingBox();
      expect(box!.width).toBeLessThanOrEqual(390);
      expect(box!.height).toBeLessThan(90);
      await p.screenshot({ path: artifact('status-page-phone.png'), fullPage: true });
    } finally {
      await phone.close();
    }
    await page.screenshot({ path: artifact('status-page-desktop.png'), fullPage: true });
  });
});
