/**
 * What floorgate leaves on disk is its own: on a real run, even under umask 000, the data dir is
 * created 0700 and the buffer file with its -wal and -shm 0600. A password_file that others can
 * read is refused by `run` and `check` alike (exit 78), without quoting it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, stopAll, tempDir } from '../helpers/gateway.js';
import { startBroker, type Broker } from '../helpers/broker.js';
import { printed, writeConfig } from './config.js';

let dir: string;
let broker: Broker;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  dir = tempDir('floorgate-files-');
  broker = await startBroker();
});
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  await stopAll();
});
afterAll(async () => {
  await broker?.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('files on disk', () => {
  it('data dir 0700, buffer file, -wal and -shm 0600, whatever the umask', async () => {
    const dataDir = path.join(dir, 'state', 'floorgate');
    const config = writeConfig(dir, { url: broker.url, dataDir }, 'modes.yaml');
    // umask 000 would give 0777 directories and 0666 files to anyone who did not ask otherwise.
    const child = spawn('sh', ['-c', `umask 000; exec "${process.execPath}" "${CLI}" run -c "${config}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    const end = Date.now() + 15_000;
    while (!out.includes('"msg":"floorgate started"')) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`no start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const db = path.join(dataDir, 'buffer.db');
    expect(mode(dataDir)).toBe(0o700);
    for (const f of [db, `${db}-wal`, `${db}-shm`]) expect([f, mode(f)]).toEqual([f, 0o600]);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    expect(mode(db)).toBe(0o600);
  });

  it('a password_file others can read is refused by run and check, without quoting it', async () => {
    const file = path.join(dir, 'mqtt.password');
    fs.writeFileSync(file, 'Pw-world-readable-61c0\n');
    fs.chmodSync(file, 0o644);
    const config = writeConfig(dir, { url: broker.url, mqtt: ['username: gw', `password_file: ${file}`] }, 'readable.yaml');
    for (const cmd of ['run', 'check']) {
      const proc = runCli([cmd, '-c', config]);
      expect(await proc.exited).toBe(78);
      const text = printed(proc);
      expect(text).toContain(`mqtt.password_file: ${file} is readable by other users (mode 0644); chmod 600 it`);
      expect(text).not.toContain('Pw-world-readable-61c0');
    }
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
  });
});
