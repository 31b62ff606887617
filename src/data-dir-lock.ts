/**
 * One daemon per data dir (reference §4.8). Two `floorgate run` on one buffer would hand out the same
 * seqs for different readings and take turns kicking each other off the broker (same client
 * id), so `run` holds an exclusive flock(2) on `{data_dir}/run.lock` for its whole life. The
 * kernel releases it at any death, kill -9 and power loss included: no stale lock to clean up.
 * The holder writes its pid into the file, so a refused second start can name it. Read-only
 * commands (`buffer stats`, `status`) never take it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { libc } from './libc.js';

export const LOCK_FILE = 'run.lock';

// flock(2) operations (the same on every Linux architecture).
const LOCK_EX = 2;
const LOCK_NB = 4;

export class DataDirInUse extends Error {
  constructor(readonly dir: string, readonly holder: number | null) {
    super(
      `the data dir ${dir} is in use by another floorgate run${holder === null ? '' : ` (pid ${holder})`}; ` +
        'stop that one first (e.g. systemctl stop floorgate), or give this one its own gateway.data_dir: two daemons on one buffer would reuse seqs',
    );
    this.name = 'DataDirInUse';
  }
}

export interface DataDirLock {
  /** Gives the data dir up (closing the file releases the lock). */
  release(): void;
}

/** Takes the data dir, creating it; throws DataDirInUse when another process holds it. */
export function lockDataDir(dir: string): DataDirLock {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, LOCK_FILE);
  // libuv opens with O_CLOEXEC: a child process never inherits (and so never holds) the lock.
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  const c = libc();
  const flock = c.func('int flock(int fd, int operation)');
  if (flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const why = c.lastError();
    fs.closeSync(fd);
    if (why === 'EWOULDBLOCK' || why === 'EAGAIN') throw new DataDirInUse(dir, holderOf(file));
    throw new Error(`cannot lock the data dir (${file}): ${why}`);
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  let held = true;
  return {
    release: () => {
      if (held) fs.closeSync(fd);
      held = false;
    },
  };
}

function holderOf(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
