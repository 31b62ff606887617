/**
 * Headless Chromium (Debian's /usr/bin/chromium) for the status page tests, started by us with
 * a fresh profile so we own its pid, and driven by playwright-core over CDP on loopback.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { needTool } from '../helpers/tools.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests are skipped, or null when they can run. */
export const chromiumMissing = needTool('chromium', fs.existsSync(CHROMIUM), 'the status page in a browser') ? null : `${CHROMIUM} is not installed (apt-get install -y chromium)`;

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0',
];

export interface Chromium {
  readonly browser: Browser;
  readonly pid: number;
  close(): Promise<void>;
}

export async function launchChromium(timeoutMs = 20_000): Promise<Chromium> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-chromium-'));
  // Its own process group, so the renderers and helpers go with it.
  const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await exited;
    }
    fs.rmSync(profile, { recursive: true, force: true });
  };
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`chromium did not open its DevTools port within ${timeoutMs} ms: ${err}`)), timeoutMs);
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        err = (err + chunk).slice(-2000);
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`chromium exited (${code}) before it listened: ${err}`));
      });
    });
    const browser = await chromium.connectOverCDP(endpoint);
    return {
      browser,
      pid: child.pid!,
      async close() {
        await browser.close().catch(() => undefined);
        await kill();
      },
    };
  } catch (err) {
    await kill();
    throw err;
  }
}

/** test-artifacts/NAME, for screenshots a person looks at after the run. */
export function artifact(name: string): string {
  const dir = path.resolve(import.meta.dirname, '../../test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
