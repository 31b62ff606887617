/**
 * A buffer whose file can no longer grow (a file-size limit set on the process with prlimit,
 * which fails writes with EFBIG like a full disk fails them with ENOSPC): it must not crash,
 * must keep new readings in memory up to its bound, then drop by policy and count, say
 * writable=false, log once per state change, and recover by itself when writing works again.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killChildren, startChild, type Child } from './child-process.js';
import { needTool, onPath } from '../helpers/tools.js';
import { bufferConfig, removeTempDirs, tempDir } from './helpers.js';

afterEach(killChildren);
afterAll(removeTempDirs);

const hasPrlimit = needTool('prlimit', onPath('prlimit'), 'the unwritable-file test');

async function until(child: Child, pred: (s: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const state = await child.request({ op: 'state' });
    if (pred(state) || Date.now() > end) return state;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!hasPrlimit)('a file that cannot be written', () => {
  it('keeps readings in memory, drops by policy past the bound, and recovers', async () => {
    const file = path.join(tempDir(), 'buffer.db');
    // 8 MiB cap: up to 8 MiB of queue in memory; files limited to 600 kB, far under the cap.
    const config = bufferConfig({ max_bytes: 8 * 2 ** 20, commit_interval: 50 });
    const child = startChild(file, config, ['prlimit', '--fsize=600000:']);

    await child.request({ op: 'append', n: 300, size: 500 });
    expect(await child.request({ op: 'flush' })).toMatchObject({ writable: true, messages: 300 });

    await child.request({ op: 'append', n: 1500, size: 500 });
    const failed = await child.request({ op: 'flush' });
    expect(failed.writable).toBe(false);
    expect(failed.messages).toBeLessThan(1800);

    // Past the memory bound the oldest queued go (drop_oldest), counted as full.
    await child.request({ op: 'append', n: 10_000, size: 500 });
    const full = await until(child, () => true);
    expect(full.writable).toBe(false);
    expect((full.dropped as { full: number }).full).toBeGreaterThan(0);

    // Retries go on in the background without logging again.
    await new Promise((r) => setTimeout(r, 1500));
    const errors = () => child.logs.filter((l) => l.level === 50);
    expect(errors()).toHaveLength(1);
    expect(errors()[0].msg).toMatch(/cannot write the buffer/);

    expect(spawnSync('prlimit', ['--pid', String(child.pid), '--fsize=unlimited:']).status).toBe(0);
    const recovered = await until(child, (s) => s.writable === true);
    expect(recovered.writable).toBe(true);
    const done = await child.request({ op: 'flush' });
    expect(done.appended).toBe(11_800);
    // Every reading is stored or counted as dropped (two readings a message), and every
    // message dropped from memory consumed its seq: stored + dropped messages = seqs assigned.
    expect((done.readings as number) + (done.dropped as { full: number }).full).toBe(11_800 * 2);
    expect((done.messages as number) + (done.dropped as { full: number }).full / 2).toBe(done.last_seq);
    expect(child.logs.filter((l) => l.msg === 'the buffer can be written again')).toHaveLength(1);
    expect(errors()).toHaveLength(1);
  }, 40_000);
});
