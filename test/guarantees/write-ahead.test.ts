/**
 * reference §4.1, write-ahead, judged by what a real broker delivered: nothing reaches the broker
 * before the buffer file holds it.
 *
 * Within one process a commit runs to its end before a subscriber's callback can run, so a
 * message published a moment too early is indistinguishable from one published in time, unless
 * the commit then fails. So the commit is made to fail: this process gets a file-size limit of 0
 * (prlimit; every write to a file fails with EFBIG, as a full disk fails it with ENOSPC) while
 * readings are appended over a working link. Whatever the broker delivers meanwhile was
 * published from outside the file; the file itself is read by a separate connection.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/stats.js';
import { startBroker } from '../helpers/broker.js';
import { subscribe } from '../helpers/subscriber.js';
import { needTool, onPath } from '../helpers/tools.js';
import { testConfig } from '../forward/config.js';
import { appendBatches, captureLog, complete, openStore, Rig, seqsOf } from '../forward/setup.js';

const rig = new Rig();
afterEach(async () => { await rig.close(); });

const hasPrlimit = needTool('prlimit', onPath('prlimit'), 'the write-ahead test (it makes the buffer file unwritable)');

/** The soft RLIMIT_FSIZE of this very process: bytes, or 'unlimited'. */
function limitFileSize(limit: number | 'unlimited'): void {
  const result = spawnSync('prlimit', ['--pid', String(process.pid), `--fsize=${limit}:`], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`prlimit failed: ${result.stderr || result.error}`);
}

describe.skipIf(!hasPrlimit)('write-ahead (reference §4.1)', () => {
  it('while commits fail, nothing reaches the broker beyond what the file holds; once they succeed, all of it', async () => {
    const broker = rig.add(await startBroker(), (b) => b.stop());
    const sub = rig.add(await subscribe(broker.url, { topic: 'fg/#' }), (s) => s.close());
    const capture = captureLog();
    const config = testConfig({ url: broker.url });
    const dir = rig.tempDir();
    const store = rig.add(openStore(dir, config.buffer, capture.log), (s) => s.close());
    rig.forwarder(config, store, capture.log).start();
    appendBatches(store, 5);
    await sub.waitFor((m) => complete(m, 5), 5_000);

    const file = path.join(dir, 'buffer.db');
    const held = readBufferStats(file).last_seq;
    let arrived: number[];
    limitFileSize(0);
    try {
      appendBatches(store, 5);
      // Preconditions, or the test proves nothing: the commit failed and the file is unchanged.
      expect(store.writable).toBe(false);
      // Time for anything published to make the round trip through the broker.
      await new Promise((r) => setTimeout(r, 500));
      expect(readBufferStats(file).last_seq).toBe(held);
      arrived = seqsOf(sub.messages);
    } finally {
      limitFileSize('unlimited');
    }
    expect(arrived.filter((seq) => seq > held)).toEqual([]);
    // The failed commit is retried by itself; then the readings go out.
    await sub.waitFor((m) => complete(m, 10), 10_000);
  });
});
