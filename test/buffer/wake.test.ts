/**
 * The buffer's own timer (sqlite-buffer.ts armWake) is set only when there is something to come
 * back for. Held messages still expire by max_age with nothing else committing.
 */
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

it('expires a held message by max_age on its own timer, with no commit asked for', async () => {
  const buffer = openBuffer({ path: path.join(tempDir(), 'buffer.db'), config: bufferConfig({ max_age: 300 }), log: captureLog().log });
  try {
    buffer.append({ device: 'd', tag: null, body: '{}', readings: 2, ts: Date.now() });
    buffer.flush();
    expect(buffer.stats()).toMatchObject({ messages: 1, dropped: { max_age: 0 } });
    // The age check runs at most every 5 s (AGE_CHECK_MS): the first commit ran one.
    await new Promise((r) => setTimeout(r, 5_600));
    expect(buffer.stats()).toMatchObject({ messages: 0, dropped: { max_age: 2 } });
  } finally {
    buffer.close();
  }
}, 15_000);
