/**
 * Power loss with `sync: full` (SPEC §4.4): a committed reading survives it.
 *
 * A real power cut cannot be pulled here, so the claim is split in the two facts it rests on,
 * each checked against the real buffer in a child process that appends without pause and prints
 * `{"committed": seq}` after every commit (test/buffer/child.ts):
 *
 * 1. What is on disk at any instant is a valid buffer holding every commit acknowledged before
 *    that instant. The child is frozen (SIGSTOP) at random moments — often in the middle of a
 *    commit, between the WAL frames of one transaction — and its database and WAL are copied
 *    while it cannot write; the -shm index is not copied, as it would not survive a power cut
 *    either. "Acknowledged" means: the child printed the seq before it was frozen (it cannot
 *    print while frozen, so every line read before it is thawed counts). Copying the files of a
 *    running writer instead would tear across them: a checkpoint between copying the database
 *    and the WAL would lose commits from the copy that no disk would ever lose.
 *    Where strace is installed, every write the child makes is slowed by 3 ms (a slow disk), so
 *    most freezes land inside a commit; the copies whose WAL ends in frames without their commit
 *    frame are counted, and there must be some.
 *    Each copy must pass PRAGMA integrity_check, hold seqs 1..N without a hole for some
 *    N ≥ the last acknowledged seq, with the message appended for each, and open as a buffer
 *    without being moved aside as corrupt.
 *
 * 2. Nothing is acknowledged before it is on the platter: with sync: full, every
 *    `{"committed"}` line is preceded by an fsync/fdatasync of the WAL after its last write to
 *    the WAL (seen with strace). The same check against sync: normal must find acknowledgements
 *    without one, or it would prove nothing.
 *
 * Together, and given a disk that keeps what it fsynced: a power cut at any instant leaves the
 * state of some instant at or after the last fsync, which by (1) holds every acknowledged commit.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { killChildren, startChild, type Child } from '../buffer/child-process.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from '../buffer/helpers.js';
import { figures, sleep } from './rig.js';

afterEach(killChildren);
afterAll(removeTempDirs);

const COPIES = 20;
const hasStrace = spawnSync('sh', ['-c', 'command -v strace']).status === 0;

/** Appends 40 messages every 5 ms, without waiting for answers. */
function feed(child: Child, size = 60): () => void {
  const timer = setInterval(() => child.send({ op: 'append', n: 40, size }), 5);
  return () => clearInterval(timer);
}

/**
 * Frames at the end of a WAL copy that belong to a transaction whose commit frame is not there
 * (the writer was frozen between them): what a power cut in the middle of a commit leaves.
 * Only frames of the WAL's current generation (its header's salts) count.
 */
function uncommittedTail(wal: Buffer): number {
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const salt = wal.subarray(16, 24);
  let tail = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (!wal.subarray(at + 8, at + 16).equals(salt)) break;
    tail = wal.readUInt32BE(at + 4) === 0 ? tail + 1 : 0;
  }
  return tail;
}

const acknowledged = (child: Child) => Math.max(0, ...child.out.flatMap((l) => (typeof l.committed === 'number' ? [l.committed] : [])));

function processState(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

async function freeze(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const end = Date.now() + 2_000;
  while (processState(pid) !== 'T') {
    if (Date.now() > end) throw new Error(`process ${pid} did not stop`);
    await sleep(1);
  }
}

/** Checks one frozen copy; returns its highest seq. */
function checkCopy(dir: string, ack: number): number {
  const file = path.join(dir, 'buffer.db');
  const db = new Database(file);
  let hi: number;
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const range = db.prepare('SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM messages').get() as { n: number; lo: number; hi: number };
    hi = range.hi;
    const { n, lo } = range;
    expect(hi).toBeGreaterThanOrEqual(ack);
    // Nothing acknowledged by a broker, nothing dropped: every seq from 1 is there, and holds
    // the message appended for it (the child numbers its appends from 0).
    expect({ n, lo }).toEqual({ n: hi, lo: 1 });
    const bodies = db.prepare('SELECT seq, body FROM messages WHERE seq % 97 = 0 OR seq = ?').all(hi) as { seq: number; body: string }[];
    for (const { seq, body } of bodies) expect(JSON.parse(body).i).toBe(seq - 1);
    expect((db.prepare('SELECT last_seq FROM meta').get() as { last_seq: number }).last_seq).toBe(hi);
  } finally {
    db.close();
  }
  // The product's own open path accepts it as it is: not moved aside, numbering goes on.
  const log = captureLog();
  const store = openBuffer({ path: file, config: bufferConfig({ sync: 'full' }), log: log.log });
  expect(store.stats().last_seq).toBe(hi);
  store.close();
  expect(log.lines().filter((l) => l.level >= 50)).toEqual([]);
  expect(fs.readdirSync(dir).filter((f) => f.includes('corrupt'))).toEqual([]);
  return hi;
}

describe('power loss, sync: full', () => {
  it(`copies frozen at ${COPIES} random instants: never corrupt, every acknowledged commit in them`, async () => {
    const file = path.join(tempDir(), 'buffer.db');
    const slowDisk = hasStrace ? ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'trace=pwrite64', '-e', 'inject=pwrite64:delay_exit=3000'] : [];
    const child = startChild(file, bufferConfig({ sync: 'full', commit_interval: 10 }), slowDisk);
    await child.request({ op: 'state' });
    const stop = feed(child, 400);
    let torn = 0;
    let maxAck = 0;
    try {
      await child.waitFor((l) => typeof l.committed === 'number' && l.committed >= 200, 30_000);
      for (let k = 0; k < COPIES; k++) {
        await sleep(50 + Math.random() * 250);
        await freeze(child.pid);
        const copy = tempDir();
        for (const suffix of ['', '-wal']) {
          if (fs.existsSync(file + suffix)) fs.copyFileSync(file + suffix, path.join(copy, `buffer.db${suffix}`));
        }
        if (fs.existsSync(`${file}-wal`) && uncommittedTail(fs.readFileSync(path.join(copy, 'buffer.db-wal'))) > 0) torn++;
        // Lines written before the freeze may still be in the pipe: let them arrive.
        await sleep(30);
        const ack = acknowledged(child);
        process.kill(child.pid, 'SIGCONT');
        checkCopy(copy, ack);
        maxAck = ack;
        fs.rmSync(copy, { recursive: true, force: true });
      }
    } finally {
      stop();
    }
    figures('power loss (frozen copies)', { copies: COPIES, frozen_mid_commit: torn, acknowledged_seqs: maxAck, lost: 0 });
    expect(maxAck).toBeGreaterThanOrEqual(200);
    if (hasStrace) expect(torn).toBeGreaterThan(0);
  }, 60_000);

  /**
   * Runs the child under strace for a while and counts the acknowledgements that were not
   * preceded by a sync of the WAL after its last write.
   */
  async function unsyncedAcks(sync: 'normal' | 'full'): Promise<{ acks: number; unsynced: number }> {
    const dir = tempDir();
    const trace = path.join(dir, 'trace.txt');
    const child = startChild(path.join(dir, 'buffer.db'), bufferConfig({ sync, commit_interval: 20 }),
      ['strace', '-f', '-y', '-qq', '-e', 'trace=pwrite64,write,writev,fsync,fdatasync', '-o', trace]);
    await child.request({ op: 'state' });
    const stop = feed(child);
    await child.waitFor((l) => typeof l.committed === 'number', 30_000);
    await sleep(2_000);
    stop();
    process.kill(child.pid, 'SIGKILL');
    await child.exited;
    let walDirty = false;
    let acks = 0;
    let unsynced = 0;
    for (const line of fs.readFileSync(trace, 'utf8').split('\n')) {
      const m = /^\d+ +(\w+)\((\d+)<([^>]*)>/.exec(line);
      if (!m) continue;
      const [, call, fd, target] = m;
      if (target.endsWith('buffer.db-wal')) {
        if (call === 'pwrite64') walDirty = true;
        else if (call === 'fsync' || call === 'fdatasync') walDirty = false;
      } else if (fd === '1' && (call === 'write' || call === 'writev') && line.includes('committed')) {
        acks++;
        if (walDirty) unsynced++;
      }
    }
    return { acks, unsynced };
  }

  it.skipIf(!hasStrace)('every acknowledgement comes after the WAL was synced (and with sync: normal it does not)', async () => {
    const full = await unsyncedAcks('full');
    expect(full.acks).toBeGreaterThan(20);
    expect(full.unsynced).toBe(0);
    const normal = await unsyncedAcks('normal');
    expect(normal.acks).toBeGreaterThan(20);
    expect(normal.unsynced).toBeGreaterThan(0);
    figures('power loss (fsync order)', { full_acks: full.acks, full_unsynced: full.unsynced, normal_acks: normal.acks, normal_unsynced: normal.unsynced });
  }, 60_000);
});
