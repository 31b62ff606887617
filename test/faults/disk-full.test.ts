/**
 * The data dir on a 2 MiB tmpfs, filled to the last byte by a filler file while the broker link
 * is down (so the buffer must grow): floorgate keeps running, keeps new readings in memory up to
 * its bound and then drops them by when_full, counts every one, and /healthz answers 503 while
 * the buffer cannot be written. Once the filler is deleted it writes again on its own (200), and
 * every seq arrives upstream or is a counted drop (a dropped message keeps its seq, so a consumer
 * sees the loss as a gap).
 *
 * Needs root (mount -t tmpfs); skipped otherwise, saying so.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/stats.js';
import { eventually, figures, getJson, getText, metric, FaultRig } from './rig.js';

function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-mount-probe-'));
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (ok) spawnSync('umount', [probe]);
  fs.rmdirSync(probe);
  return ok;
}

const mountable = canMountTmpfs();
let rig: FaultRig | undefined;
let mounted: string | undefined;

afterAll(async () => {
  // The daemon goes first: a mount point in use cannot be unmounted.
  await rig?.close().catch(() => undefined);
  if (mounted && spawnSync('umount', [mounted]).status !== 0) spawnSync('umount', ['-l', mounted]);
}, 30_000);

/** Writes zeros until the filesystem says ENOSPC; returns the bytes written. */
function fill(file: string): number {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024);
  let written = 0;
  try {
    for (;;) written += fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

describe.skipIf(!mountable)('disk full (tmpfs data dir; skipped unless root can mount tmpfs)', () => {
  it('keeps running, drops by policy and counts, 503 while unwritable, recovers when space returns', async () => {
    rig = await FaultRig.start({ pollInterval: '10ms', buffer: { max_bytes: '256KiB' } });
    fs.mkdirSync(rig.dataDir);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', rig.dataDir]).status).toBe(0);
    mounted = rig.dataDir;
    const gw = await rig.gateway();
    const health = () => getJson(gw.httpPort, '/healthz');
    await rig.sub.waitFor((m) => m.length >= 10, 15_000);
    expect((await health()).status).toBe(200);

    const filler = path.join(rig.dataDir, 'filler');
    const filled = fill(filler);
    rig.mqttProxy.blackhole();
    const failing = await eventually(async () => {
      const h = await health();
      return h.status === 503 ? h : undefined;
    }, 20_000, 'healthz to answer 503');
    expect(failing.body).toMatchObject({ status: 'failing', buffer: { writable: false } });
    await gw.proc.waitFor((_l, j) => j?.level === 50 && /cannot write the buffer/.test(String(j.msg)), 5_000);

    // Past the memory bound, readings are dropped by policy and counted.
    const dropped = await eventually(async () => {
      const n = metric(await getText(gw.httpPort, '/metrics'), 'floorgate_dropped_total', { reason: 'full' }) ?? 0;
      return n > 0 ? n : undefined;
    }, 20_000, 'readings to be dropped as full');
    expect(gw.proc.child.exitCode).toBeNull();
    expect((await health()).status).toBe(503);

    fs.rmSync(filler);
    rig.mqttProxy.pass();
    const back = await eventually(async () => {
      const h = await health();
      return h.status === 200 ? h : undefined;
    }, 10_000, 'healthz to answer 200 again');
    expect(back.body.buffer.writable).toBe(true);
    await gw.proc.waitFor((_l, j) => /the buffer can be written again/.test(String(j?.msg)), 5_000);

    // A dropped message keeps its seq, in memory or on disk, so every loss is a gap upstream;
    // every missing seq must be a counted drop of 3 readings. (The readings kept in memory
    // meanwhile may be more than fit under max_bytes once written: then the oldest committed
    // messages go too, by when_full. The count may exceed the gap: a message the forwarder had
    // already read for the backlog when the cap dropped it still goes out.)
    const committed = readBufferStats(rig.bufferFile).last_seq;
    await eventually(() => {
      const r = rig!.audit();
      return (r.lastSeq ?? 0) >= committed && r.missing * 3 <= readBufferStats(rig!.bufferFile).dropped.full;
    }, 30_000, `every seq up to ${committed} to arrive or be counted as dropped`);
    const stats = readBufferStats(rig.bufferFile);
    const text = await getText(gw.httpPort, '/metrics');
    expect(await gw.proc.stop('SIGTERM')).toBe(0);

    const report = rig.audit();
    expect(report.firstSeq).toBe(1);
    expect(report.missing).toBeGreaterThan(0);
    expect(report.missing * 3).toBeLessThanOrEqual(stats.dropped.full);
    expect(stats.dropped.full).toBeGreaterThanOrEqual(dropped);
    expect(metric(text, 'floorgate_dropped_total', { reason: 'full' })).toBe(stats.dropped.full);
    figures('disk full', {
      filler_bytes: filled, readings_dropped: stats.dropped.full, seqs_checked: report.lastSeq ?? 0,
      seqs_missing: report.missing, missing_not_counted: 0, duplicates: report.duplicates,
    });
  }, 90_000);
});
