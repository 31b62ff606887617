/**
 * The data dir on a 2 MiB tmpfs, filled to the last byte by a filler file while the broker link
 * is down (so the buffer must grow): floorgate keeps running, keeps new readings in memory up to
 * its bound and then drops them by when_full, counts every one, and /healthz answers 503 while
 * the buffer cannot be written. Once the filler is deleted it writes again on its own (200), and
 * every seq missing upstream is one the daemon's drop log names (a dropped message keeps its
 * seq, so a consumer sees the loss as a gap, and can match it against the log); a named seq that
 * still arrived was in flight when it was dropped (bounded by max_inflight), never more.
 *
 * Needs root (mount -t tmpfs): under CI=true its absence fails the test; elsewhere it is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/stats.js';
import { parseRanges } from '../../src/buffer/drop-log.js';
import { dataMessages, eventually, getJson, getText, metric, FaultRig } from './rig.js';
import { recordFigures } from '../helpers/results.js';
import { needTool } from '../helpers/tools.js';

function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-mount-probe-'));
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (ok) spawnSync('umount', [probe]);
  fs.rmdirSync(probe);
  return ok;
}

const mountable = needTool('root with mount -t tmpfs', canMountTmpfs(), 'the disk-full test (a tmpfs data dir)');
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

describe.skipIf(!mountable)('disk full (tmpfs data dir)', () => {
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
    const cutAt = Date.now();
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

    // A dropped message keeps its seq, in memory or on disk, so every loss is a gap upstream.
    // (The readings kept in memory meanwhile may be more than fit under max_bytes once written:
    // then the oldest committed messages go too, by when_full.)
    const committed = readBufferStats(rig.bufferFile).last_seq;
    await eventually(() => (rig!.audit().lastSeq ?? 0) >= committed, 30_000, `seq ${committed} to arrive`);
    // The PLC goes silent (one bad message, then nothing new), so the backlog can drain to zero
    // and every seq ever assigned is either upstream or dropped.
    rig.plcProxy.blackhole();
    await eventually(() => readBufferStats(rig!.bufferFile).messages === 0, 30_000, 'the backlog to drain');
    const stats = readBufferStats(rig.bufferFile);
    const text = await getText(gw.httpPort, '/metrics');
    expect(await gw.proc.stop('SIGTERM')).toBe(0);

    // Seq by seq: what the broker never delivered is what the drop log names, and nothing else.
    const lastSeq = stats.last_seq;
    const arrived = new Set(dataMessages(rig.sub.messages).map((m) => m.payload.seq as number));
    const missing: number[] = [];
    for (let seq = 1; seq <= lastSeq; seq++) if (!arrived.has(seq)) missing.push(seq);
    const dropLines = gw.proc.stdout.flatMap((l) => {
      const j = JSON.parse(l) as Record<string, unknown>;
      return j.level === 40 && j.reason === 'full' && typeof j.seqs === 'string' ? [j] : [];
    });
    const named = dropLines.flatMap((j) => parseRanges(j.seqs as string));
    const missingNotNamed = missing.filter((seq) => !named.includes(seq));
    // A named seq may still arrive in two ways, both over-counts, never a hidden loss: the broker
    // took it just before the cut and the cut swallowed its PUBACK; or, once the link is back,
    // the forwarder had it in flight (at most max_inflight, 64) when drop_oldest deleted it to
    // make room for new readings.
    const firstArrival = new Map<number, number>();
    for (const m of dataMessages(rig.sub.messages)) if (!firstArrival.has(m.payload.seq)) firstArrival.set(m.payload.seq, m.arrivedAt);
    const namedButDelivered = named.filter((seq) => (firstArrival.get(seq) ?? -Infinity) > cutAt);
    const namedInFlightAtCut = named.filter((seq) => (firstArrival.get(seq) ?? Infinity) <= cutAt).length;
    const MAX_INFLIGHT = 64;
    expect(missing.length).toBeGreaterThan(0);
    expect(missingNotNamed).toEqual([]);
    expect(namedButDelivered.length).toBeLessThanOrEqual(MAX_INFLIGHT);
    expect(new Set(named).size).toBe(named.length);
    // Every message of this PLC holds 3 readings: the counters say the same as the seqs.
    expect(stats.dropped.full).toBe(3 * named.length);
    expect(missing.length).toBe(named.length - namedButDelivered.length - namedInFlightAtCut);
    expect(dropLines.reduce((sum, j) => sum + (j.readings as number), 0)).toBe(stats.dropped.full);
    expect(stats.dropped.full).toBeGreaterThanOrEqual(dropped);
    expect(metric(text, 'floorgate_dropped_total', { reason: 'full' })).toBe(stats.dropped.full);
    recordFigures('disk full', {
      filler_bytes: filled, readings_dropped: stats.dropped.full, seqs_checked: lastSeq,
      seqs_missing: missing.length, seqs_named_dropped: named.length, missing_not_named: missingNotNamed.length,
      named_but_delivered_after_cut: namedButDelivered.length, named_in_flight_at_cut: namedInFlightAtCut, duplicates: rig.audit().duplicates,
    });
  }, 90_000);
});
