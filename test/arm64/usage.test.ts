/**
 * The process accounting behind the arm64 smoke's "CPU per reading" and RSS figures, checked
 * against a child that burns a known amount of CPU and holds a known amount of memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleUsage } from './usage.js';

let child: ChildProcess | undefined;
afterEach(() => {
  if (child?.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  child = undefined;
});

// A name with spaces and parentheses, as /proc/PID/stat shows it: the parser must not be fooled.
const BUSY = `
process.title = 'fg) x (y';
const hold = Buffer.alloc(64 * 1024 * 1024, 1);
process.stdout.write('ready\\n');
process.stdin.once('data', () => {
  // Burn 600 ms of CPU, however long a loaded machine takes to grant it.
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= 600_000) break;
  }
  process.stdout.write('done\\n' + hold[0]);
});
`;

function line(c: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    c.stdout!.on('data', (d: Buffer) => { seen += d.toString(); if (seen.includes(text)) resolve(); });
    c.once('exit', () => reject(new Error(`child exited before printing ${text}`)));
  });
}

describe('sampleUsage', () => {
  it('counts the CPU a process burns and the memory it holds', async () => {
    child = spawn(process.execPath, ['-e', BUSY], { stdio: ['pipe', 'pipe', 'inherit'] });
    await line(child, 'ready');
    const before = sampleUsage(child.pid!);
    const done = line(child, 'done');
    child.stdin!.write('go\n');
    await done;
    const after = sampleUsage(child.pid!);

    // 600 ms burnt, counted in clock ticks (10 ms), plus the little the child did besides.
    expect(after.cpuMs - before.cpuMs).toBeGreaterThanOrEqual(580);
    expect(after.cpuMs - before.cpuMs).toBeLessThan(1_500);
    // The 64 MiB buffer is touched (filled with 1s), so it is resident.
    expect(after.rssKiB).toBeGreaterThan(64 * 1024);
    expect(after.peakRssKiB).toBeGreaterThanOrEqual(after.rssKiB);
  }, 20_000);
});
