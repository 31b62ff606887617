/** Shared pieces of the buffer tests: temp dirs, a real logger that keeps its lines, configs. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BufferConfig } from '../../src/config/types.js';

export { captureLog, type LogCapture as LogLines } from '../helpers/log.js';

const dirs: string[] = [];

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-buffer-'));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export function bufferConfig(over: Partial<BufferConfig> = {}): BufferConfig {
  return {
    max_bytes: 64 * 2 ** 20,
    max_age: 10 * 365 * 86_400_000,
    when_full: 'drop_oldest',
    sync: 'normal',
    // Long enough that, past a first append's commit at the end of its turn (commit-soon.test.ts),
    // only flush() and close() commit, so a test knows when commits happen.
    commit_interval: 3_600_000,
    replay: 'live_first',
    replay_rate: 0,
    ...over,
  };
}

/** Database file plus WAL, as they are on disk now. */
export function diskBytes(file: string): number {
  const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  return size(file) + size(`${file}-wal`);
}
