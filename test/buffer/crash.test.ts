/**
 * A real crash: a child process appends without pause, reports every seq it saw committed, and
 * is killed with SIGKILL at a random moment. Every reported seq must be in the file, with the
 * message that was appended for it, and numbering must go on after the last seq ever assigned.
 */
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { killChildren, startChild } from './child-process.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from './helpers.js';

afterEach(killChildren);
afterAll(removeTempDirs);

describe('kill -9', () => {
  it('loses no committed message, and seqs continue after the last one assigned', async () => {
    const file = path.join(tempDir(), 'buffer.db');
    const config = bufferConfig({ commit_interval: 20 });
    let reported = 0;
    for (let round = 0; round < 3; round++) {
      const start = reported;
      const child = startChild(file, config);
      await child.request({ op: 'stream' });
      // Let it commit a while (at least a few commits), then kill it mid-stream.
      await child.waitFor((l) => typeof l.committed === 'number' && l.committed > reported + 200);
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 300));
      process.kill(child.pid, 'SIGKILL');
      expect(await child.exited).toBe('SIGKILL');
      const seen = child.out.flatMap((l) => (typeof l.committed === 'number' ? [l.committed] : []));
      expect(Math.max(...seen)).toBeGreaterThan(reported);
      reported = Math.max(...seen);

      const store = openBuffer({ path: file, config, log: captureLog().log });
      const all = store.read(0, 10_000_000);
      // Nothing acknowledged, nothing dropped: seq k holds the message appended k-th, across
      // every run so far (each run numbers its appends from 0, after the previous run's last).
      expect(all.length).toBeGreaterThanOrEqual(reported);
      expect(all.map((m) => m.seq)).toEqual(all.map((_, i) => i + 1));
      for (const m of all.slice(start)) expect(JSON.parse(m.body).i).toBe(m.seq - start - 1);
      const stats = store.stats();
      expect(stats.last_seq).toBe(all.length);
      expect(stats.messages).toBe(all.length);
      store.close();
      reported = all.length;
    }
  }, 60_000);
});
