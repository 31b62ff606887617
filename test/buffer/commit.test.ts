/** When commits happen without flush(), and what commit listeners see. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ACK_LINGER_MS, openBuffer } from '../../src/buffer/sqlite-buffer.js';
import type { NewMessage } from '../../src/buffer/types.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const message = (body = '{}'): NewMessage => ({ device: 'press-1', tag: null, body, readings: 1, ts: Date.now() });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('commits', () => {
  it('happen within commit_interval of an append, and delete acknowledged messages', async () => {
    const logs = captureLog();
    const store = openBuffer({ path: path.join(tempDir(), 'buffer.db'), config: bufferConfig({ commit_interval: 50 }), log: logs.log });
    const seen: number[] = [];
    store.onCommit((seq) => seen.push(seq));
    expect(store.lastCommitMs).toBeNull();
    store.append(message());
    store.append(message());
    expect(store.read(0, 10)).toEqual([]); // only committed messages are handed out
    await sleep(300);
    expect(store.read(0, 10).map((m) => m.seq)).toEqual([1, 2]);
    expect(seen).toEqual([2]);
    expect(store.lastCommitMs).toBeGreaterThanOrEqual(0);

    store.ack(1);
    expect(store.read(0, 10).map((m) => m.seq)).toEqual([2]); // hidden at once
    expect(store.stats().messages).toBe(2); // deleted at the next commit
    await sleep(ACK_LINGER_MS + 300);
    expect(store.stats().messages).toBe(1);
    expect(seen).toEqual([2]); // a commit that added nothing is not announced
    store.close();
  });

  it('an acknowledged message waits for the next commit of appends, up to ACK_LINGER_MS, so a poll a second is one transaction, not two', async () => {
    const file = path.join(tempDir(), 'buffer.db');
    const store = openBuffer({ path: file, config: bufferConfig({ commit_interval: 50 }), log: captureLog().log });
    const walFrames = () => (fs.statSync(`${file}-wal`).size - 32) / (1024 + 24);
    store.append(message());
    await sleep(200);
    store.ack(1);
    const before = walFrames();
    await sleep(300);
    // Nothing was written for the ack alone…
    expect(store.stats().messages).toBe(1);
    expect(walFrames()).toBe(before);
    store.append(message());
    await sleep(200);
    // …and the next append's transaction deleted it.
    expect(store.stats().messages).toBe(1);
    expect(store.read(0, 10).map((m) => m.seq)).toEqual([2]);
    // Without an append, the ack commits on its own once ACK_LINGER_MS has passed.
    store.ack(2);
    await sleep(ACK_LINGER_MS - 300);
    expect(store.stats().messages).toBe(1);
    await sleep(600);
    expect(store.stats().messages).toBe(0);
    store.close();
  });

  it('a burst beyond a few MiB is committed while it is appended, not held in memory', () => {
    const store = openBuffer({ path: path.join(tempDir(), 'buffer.db'), config: bufferConfig(), log: captureLog().log });
    const seen: number[] = [];
    store.onCommit((seq) => seen.push(seq));
    const body = 'x'.repeat(10_000);
    for (let i = 0; i < 1000; i++) store.append(message(body)); // ~20 MB queued, commit_interval 1 h
    expect(seen.length).toBeGreaterThan(0);
    expect(store.stats().messages).toBeGreaterThan(500);
    store.flush();
    expect(store.stats().messages).toBe(1000);
    store.close();
  });

  it('a failing listener is logged and does not stop the others; unsubscribe works', () => {
    const logs = captureLog();
    const store = openBuffer({ path: path.join(tempDir(), 'buffer.db'), config: bufferConfig(), log: logs.log });
    const seen: number[] = [];
    store.onCommit(() => {
      throw new Error('boom');
    });
    const off = store.onCommit((seq) => seen.push(seq));
    store.append(message());
    store.flush();
    off();
    store.append(message());
    store.flush();
    expect(seen).toEqual([1]);
    expect(store.read(0, 10)).toHaveLength(2);
    expect(logs.lines().filter((l) => l.level === 50 && l.msg === 'a commit listener failed')).toHaveLength(2);
    store.close();
  });

  it('close() commits what is queued; using the store after close is an error', () => {
    const file = path.join(tempDir(), 'buffer.db');
    const store = openBuffer({ path: file, config: bufferConfig(), log: captureLog().log });
    store.append(message());
    store.close();
    store.close(); // twice is harmless
    expect(() => store.append(message())).toThrow(/closed/);
    const again = openBuffer({ path: file, config: bufferConfig(), log: captureLog().log });
    expect(again.read(0, 10).map((m) => m.seq)).toEqual([1]);
    expect(again.read(0, 0)).toEqual([]);
    again.close();
  });
});
