/**
 * `floorgate run` under systemd: when stdout is the journal (JOURNAL_STREAM names stdout's
 * device:inode, as systemd sets it), each JSON line carries its sd-daemon priority prefix so
 * `journalctl -p warning` works; anywhere else the lines stay plain JSON.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, tempDir, writeGatewayConfig } from '../helpers/gateway.js';
import { reapOnExit } from '../helpers/reap.js';

/** pino's levels → sd-daemon(3) priorities: fatal crit, error err, warn warning, info, debug and trace debug. */
const PRIORITY: Record<number, number> = { 60: 2, 50: 3, 40: 4, 30: 6, 20: 7, 10: 7 };

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the gateway against an MQTT broker and a PLC that are not there (so it logs at debug,
 * info and warn) with stdout into a file, stops it, and returns that file's lines.
 * `journal` decides what JOURNAL_STREAM says: stdout itself, another file, or nothing.
 */
async function runGateway(journal: 'stdout' | 'elsewhere' | 'unset'): Promise<{ lines: string[]; file: string }> {
  const dir = tempDir();
  dirs.push(dir);
  const file = writeGatewayConfig({ dir, mqttPort: 1, modbusPort: 1 });
  const stdoutPath = path.join(dir, 'stdout');
  const fd = fs.openSync(stdoutPath, 'w');
  const identity = (st: fs.Stats) => `${st.dev}:${st.ino}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.JOURNAL_STREAM;
  if (journal === 'stdout') env.JOURNAL_STREAM = identity(fs.fstatSync(fd));
  if (journal === 'elsewhere') env.JOURNAL_STREAM = identity(fs.statSync(file));
  const child = spawn(CLI, ['run', '-c', file], { stdio: ['ignore', fd, 'pipe'], env });
  reapOnExit(child);
  fs.closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // Long enough for a few failed connections to the absent broker and PLC.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  return { lines: fs.readFileSync(stdoutPath, 'utf8').split('\n').filter(Boolean), file };
}

describe('floorgate run logs for journald', () => {
  it('with JOURNAL_STREAM naming stdout, every line is <N>{json} with N the priority of its level', async () => {
    const { lines, file } = await runGateway('stdout');
    const levels = new Set<number>();
    for (const line of lines) {
      const m = /^<(\d)>(\{.*\})$/.exec(line);
      expect(m, line).not.toBeNull();
      const entry = JSON.parse(m![2]) as { level: number };
      expect(Number(m![1]), line).toBe(PRIORITY[entry.level]);
      levels.add(entry.level);
    }
    // debug, info and warn lines all seen, so the mapping was checked for each.
    expect([...levels].sort()).toEqual(expect.arrayContaining([20, 30, 40]));
    const started = lines.map((l) => JSON.parse(l.slice(3)) as Record<string, unknown>).find((e) => e.msg === 'floorgate started');
    expect(started).toMatchObject({
      version: (JSON.parse(fs.readFileSync(path.join(path.dirname(CLI), '../../../package.json'), 'utf8')) as { version: string }).version,
      node: process.version,
      config: file,
    });
  }, 20_000);

  it('without JOURNAL_STREAM, or when it names another stream, the lines are plain JSON', async () => {
    for (const journal of ['unset', 'elsewhere'] as const) {
      const { lines } = await runGateway(journal);
      expect(lines.length).toBeGreaterThan(3);
      for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    }
  }, 30_000);
});
