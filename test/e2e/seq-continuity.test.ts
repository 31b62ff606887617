/**
 * Seq never goes back (reference §4.9), through `floorgate run` and judged by what the broker
 * delivered: after buffer.db is found corrupt, after it is deleted, after an old copy is put
 * back, every message that is new upstream has a seq above every seq seen before, in the same
 * epoch, and a seq delivered twice carries the same readings. Only a wiped data dir starts at
 * seq 1 again, and then under a new epoch.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/stats.js';
import { dataMessages, FaultRig, sleep } from '../faults/rig.js';
import type { Received } from '../helpers/subscriber.js';

let rig: FaultRig | undefined;
afterAll(async () => { await rig?.close(); }, 30_000);

const key = (m: Received) => `${m.payload.epoch}/${m.payload.seq}`;

/** What the broker delivered so far, judged message by message. */
class Upstream {
  private readonly content = new Map<string, string>();
  private seen = 0;
  conflicts: string[] = [];

  /** The messages that arrived since the last call and were never seen before (by epoch and seq). */
  newSince(rig: FaultRig): Received[] {
    const all = dataMessages(rig.sub.messages);
    const fresh: Received[] = [];
    for (const m of all.slice(this.seen)) {
      const readings = JSON.stringify(m.payload.readings);
      const before = this.content.get(key(m));
      if (before === undefined) {
        this.content.set(key(m), readings);
        fresh.push(m);
      } else if (before !== readings) {
        this.conflicts.push(key(m));
      }
    }
    this.seen = all.length;
    return fresh;
  }
}

function removeBuffer(rig: FaultRig): void {
  for (const s of ['', '-wal', '-shm']) fs.rmSync(rig.bufferFile + s, { force: true });
}

/**
 * Runs the gateway until `count` messages new upstream arrived (and `more` holds of them),
 * stops it cleanly, returns them.
 */
async function runUntil(rig: FaultRig, up: Upstream, count: number, more: (fresh: Received[]) => boolean = () => true): Promise<Received[]> {
  const gw = await rig.gateway();
  const fresh: Received[] = [];
  await rig.sub.waitFor(() => {
    fresh.push(...up.newSince(rig));
    return fresh.length >= count && more(fresh);
  }, 20_000);
  expect(await gw.proc.stop('SIGTERM')).toBe(0);
  fresh.push(...up.newSince(rig));
  return fresh;
}

const seqs = (ms: Received[]) => ms.map((m) => m.payload.seq as number);

describe('seq after the buffer file is lost or replaced', () => {
  it('corrupt, deleted, restored: seq goes on above, same epoch; wiped: a new epoch from 1', async () => {
    rig = await FaultRig.start({ pollInterval: '50ms' });
    const up = new Upstream();
    const first = await runUntil(rig, up, 5);
    const epoch = first[0].payload.epoch as string;
    expect(epoch).toMatch(/^[0-9a-f]{12}$/);
    let highest = Math.max(...seqs(first));

    // Corrupt: junk where the buffer was.
    removeBuffer(rig);
    fs.writeFileSync(rig.bufferFile, 'not a database '.repeat(1000));
    const afterCorrupt = await runUntil(rig, up, 5);
    expect(fs.readdirSync(rig.dataDir).some((f) => f.startsWith('buffer.db.corrupt-'))).toBe(true);
    expect(Math.min(...seqs(afterCorrupt))).toBeGreaterThan(highest);
    expect(new Set(afterCorrupt.map((m) => m.payload.epoch))).toEqual(new Set([epoch]));
    highest = Math.max(...seqs(afterCorrupt));

    // Deleted.
    removeBuffer(rig);
    const afterDelete = await runUntil(rig, up, 5);
    expect(Math.min(...seqs(afterDelete))).toBeGreaterThan(highest);
    highest = Math.max(...seqs(afterDelete));

    // Restored: a copy taken during an outage, holding messages not yet delivered.
    rig.mqttProxy.blackhole();
    const offline = await rig.gateway();
    await sleep(1_500);
    expect(await offline.proc.stop('SIGTERM')).toBe(0);
    const saved = path.join(rig.dir, 'saved-buffer.db');
    fs.copyFileSync(rig.bufferFile, saved);
    const savedLast = readBufferStats(saved).last_seq;
    expect(readBufferStats(saved).messages).toBeGreaterThan(0);
    rig.mqttProxy.pass();
    const drained = await runUntil(rig, up, 5, (fresh) => fresh.some((m) => m.payload.seq > savedLast));
    highest = Math.max(highest, ...seqs(drained));
    expect(highest).toBeGreaterThan(savedLast);
    removeBuffer(rig);
    fs.copyFileSync(saved, rig.bufferFile);
    const seenBeforeRestore = dataMessages(rig.sub.messages).length;
    const afterRestore = await runUntil(rig, up, 5);
    // The copy's messages went out again under their old seqs: duplicates, same readings.
    const redelivered = dataMessages(rig.sub.messages).slice(seenBeforeRestore).filter((m) => m.payload.seq <= savedLast);
    expect(redelivered.length).toBeGreaterThan(0);
    expect(Math.min(...seqs(afterRestore))).toBeGreaterThan(highest);

    // Wiped: no floor, no buffer — continuity is impossible, and the new epoch says so.
    fs.rmSync(rig.dataDir, { recursive: true });
    const afterWipe = await runUntil(rig, up, 5);
    expect(Math.min(...seqs(afterWipe))).toBe(1);
    const newEpoch = afterWipe[0].payload.epoch as string;
    expect(newEpoch).toMatch(/^[0-9a-f]{12}$/);
    expect(newEpoch).not.toBe(epoch);

    expect(up.conflicts).toEqual([]);
  }, 120_000);
});
