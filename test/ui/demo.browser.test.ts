/**
 * The status page against the real thing: `floorgate run` as a child process polling a
 * `floorgate sim modbus` process, publishing to a real broker, watched in headless Chromium.
 * Values move on screen, a killed PLC turns its device red within a poll interval plus 2 s,
 * a broker outage shows on the uplink, and a screenshot lands in test-artifacts/.
 */
import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startBroker } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, writeGatewayConfig } from '../helpers/gateway.js';
import { artifact, chromiumMissing, launchChromium, type Chromium } from './chromium.js';

const POLL_MS = 500;

const cleanups: (() => Promise<void> | void)[] = [];
let chrome: Chromium;

describe.skipIf(chromiumMissing !== null)(`status page of a running gateway${chromiumMissing ? ` (skipped: ${chromiumMissing})` : ''}`, () => {
  beforeAll(async () => {
    chrome = await launchChromium();
  });
  afterAll(async () => {
    await chrome?.close();
  });
  afterEach(async () => {
    await stopAll();
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  it('shows live values, turns a killed device red within a poll plus 2 s, and shows the uplink drop', async () => {
    const dir = tempDir('floorgate-ui-');
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const broker = await startBroker();
    cleanups.push(() => broker.kill());
    const plc = runCli(['sim', 'modbus', '--port', '0']);
    const plcPort = Number(/:(\d+) /.exec(await plc.waitFor((l) => l.includes('listening on')))![1]);
    const httpPort = await freePort();
    const config = writeGatewayConfig({ dir, mqttPort: broker.port, modbusPort: plcPort, httpPort, pollInterval: `${POLL_MS}ms` });
    const gateway = runCli(['run', '-c', config]);
    await gateway.waitFor((_l, json) => json?.msg === 'floorgate started');

    const res = await fetch(`http://127.0.0.1:${httpPort}/`);
    expect(res.status, 'GET / must serve the page: the runtime passes itself as `status` to startHttpServer').toBe(200);

    const context = await chrome.browser.newContext({ viewport: { width: 1200, height: 800 } });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${httpPort}/`);

    const device = page.locator('#devices tbody tr', { has: page.locator('td', { hasText: /^press-1$/ }) });
    const tagValue = (tag: string) => page.locator('#tags tbody tr', { has: page.locator('td', { hasText: new RegExp(`^${tag}$`) }) }).locator('td:nth-child(3)');
    await expect.poll(() => device.getAttribute('class'), { timeout: 10_000 }).toBe('up');
    await page.locator('#mqtt-state').filter({ hasText: /^connected$/ }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#tags tbody tr td:nth-child(2)').allTextContents()).toEqual(['temperature', 'counter', 'running']);

    // The simulated counter steps once a second: the page follows without a reload.
    const first = await tagValue('counter').textContent();
    expect(first).toMatch(/^\d+$/);
    await expect.poll(() => tagValue('counter').textContent(), { timeout: 4000 }).not.toBe(first);
    expect(await tagValue('temperature').textContent()).toMatch(/^-?\d+(\.\d+)?$/);
    expect(await page.textContent('#proc-rss')).toMatch(/^\d+\.\d MiB$/);
    await page.screenshot({ path: artifact('status-page-demo-live.png'), fullPage: true });

    // Kill the PLC: the device must turn red within one poll interval plus 2 s.
    const killed = Date.now();
    await plc.stop('SIGKILL');
    const turned = await waitForClass(page, device, 'down', POLL_MS + 2000);
    expect(turned - killed).toBeLessThanOrEqual(POLL_MS + 2000);
    expect(await device.evaluate((tr) => getComputedStyle(tr).backgroundColor)).not.toBe('rgba(0, 0, 0, 0)');
    expect(await device.locator('td:nth-child(5)').textContent()).not.toBe('');
    await expect.poll(() => page.locator('#tags tbody tr td:nth-child(4)').allTextContents(), { timeout: 3000 }).toEqual(['bad', 'bad', 'bad']);
    await page.screenshot({ path: artifact('status-page-demo-device-down.png'), fullPage: true });

    // Broker outage: the uplink says so and readings are held, until it is back.
    await broker.stop();
    await page.locator('#mqtt-state').filter({ hasText: /^disconnected$/ }).waitFor({ timeout: 5000 });
    expect(await page.textContent('#drain')).toMatch(/^held until the uplink returns/);
    await broker.start();
    await page.locator('#mqtt-state').filter({ hasText: /^connected$/ }).waitFor({ timeout: 10_000 });

    expect(await gateway.stop('SIGTERM')).toBe(0);
  });
});

/** Polls the row's class every 50 ms; resolves with the time it matched, or throws after ms. */
async function waitForClass(page: Page, row: ReturnType<Page['locator']>, cls: string, ms: number): Promise<number> {
  const deadline = Date.now() + ms + 500;
  while (Date.now() < deadline) {
    if ((await row.getAttribute('class')) === cls) return Date.now();
    await page.waitForTimeout(50);
  }
  throw new Error(`the row did not turn ${cls} within ${ms} ms`);
}
