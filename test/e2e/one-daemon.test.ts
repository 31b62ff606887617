/**
 * One daemon per data dir (reference §4.8): a second `floorgate run` on the same config refuses at
 * once, exit 1, naming the holder's pid, and changes nothing; `buffer stats` works beside the
 * running daemon; a kill -9 frees the dir for the restart right after it. Judged upstream too:
 * no seq reaches the broker twice with different content.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/gateway.js';
import { dataMessages, FaultRig, sleep } from '../faults/rig.js';

let rig: FaultRig | undefined;
afterAll(async () => { await rig?.close(); }, 30_000);

/** seq → the readings first seen for it; a later delivery of the seq must carry the same. */
function contentConflicts(rig: FaultRig): number[] {
  const first = new Map<number, string>();
  const conflicts: number[] = [];
  for (const m of dataMessages(rig.sub.messages)) {
    const content = JSON.stringify(m.payload.readings);
    const seen = first.get(m.payload.seq);
    if (seen === undefined) first.set(m.payload.seq, content);
    else if (seen !== content) conflicts.push(m.payload.seq);
  }
  return conflicts;
}

describe('one daemon per data dir', () => {
  it('a second run refuses at once naming the holder; read-only commands work; kill -9 frees it', async () => {
    rig = await FaultRig.start({ pollInterval: '50ms' });
    const first = await rig.gateway();
    await rig.sub.waitFor((m) => dataMessages(m).length >= 5, 15_000);

    const second = runCli(['run', '-c', rig.config]);
    // At once: a second daemon that does not refuse would run until killed.
    expect(await Promise.race([second.exited, sleep(10_000).then(() => 'still running after 10 s')])).toBe(1);
    const refusal = second.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).find((j) => j.level === 60);
    expect(refusal).toMatchObject({ holder_pid: first.proc.pid, data_dir: rig.dataDir });
    expect(String(refusal!.msg)).toContain(`pid ${first.proc.pid}`);
    expect(refusal!.err).toBeUndefined();
    expect(second.stdout.some((l) => l.includes('floorgate started'))).toBe(false);

    const stats = runCli(['buffer', 'stats', '-c', rig.config]);
    expect(await stats.exited).toBe(0);
    expect(stats.stdout.join('\n')).toMatch(/last seq\s+\d+/);

    // The first one never noticed: it still publishes.
    const before = dataMessages(rig.sub.messages).length;
    await rig.sub.waitFor((m) => dataMessages(m).length >= before + 5, 15_000);

    expect(await first.proc.stop('SIGKILL')).toBe('SIGKILL');
    const restarted = await rig.gateway();
    const after = dataMessages(rig.sub.messages).length;
    await rig.sub.waitFor((m) => dataMessages(m).length >= after + 5, 15_000);
    expect(await restarted.proc.stop('SIGTERM')).toBe(0);

    expect(contentConflicts(rig)).toEqual([]);
  }, 60_000);
});
