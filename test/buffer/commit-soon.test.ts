/**
 * When readings are committed (sqlite-buffer.ts append): after a quiet commit_interval at the end
 * of the turn of the event loop that appended them, so an idle gateway's poll is committed and
 * published in the turn its reply arrived; appends that follow within commit_interval wait for it
 * and commit together.
 */
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const nextTurn = () => new Promise((r) => setImmediate(r));
const message = (n: number) => ({ device: 'd', tag: null, body: `{"n":${n}}`, readings: 1, ts: Date.now() });

it('commits the first append after a quiet commit_interval in its own turn, and batches the appends behind it', async () => {
  const commitInterval = 300;
  const buffer = openBuffer({ path: path.join(tempDir(), 'buffer.db'), config: bufferConfig({ commit_interval: commitInterval }), log: captureLog().log });
  const commits: number[] = [];
  buffer.onCommit((lastSeq) => commits.push(lastSeq));
  try {
    // Two appends in one turn: one commit for both at its end, no timer.
    buffer.append(message(1));
    buffer.append(message(2));
    expect(commits).toEqual([]);
    await nextTurn();
    expect(commits).toEqual([2]);
    expect(buffer.read(0, 10).map((m) => m.seq)).toEqual([1, 2]);

    // Within commit_interval of that commit: held for the interval, then committed together.
    buffer.append(message(3));
    await nextTurn();
    buffer.append(message(4));
    await nextTurn();
    expect(commits).toEqual([2]);
    await new Promise((r) => setTimeout(r, commitInterval + 100));
    expect(commits).toEqual([2, 4]);

    // Quiet again: the next append is committed in its turn.
    await new Promise((r) => setTimeout(r, commitInterval + 50));
    buffer.append(message(5));
    await nextTurn();
    expect(commits).toEqual([2, 4, 5]);
  } finally {
    buffer.close();
  }
});
