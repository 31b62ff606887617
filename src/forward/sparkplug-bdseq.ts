/**
 * The Sparkplug birth/death sequence number (bdSeq), persisted across restarts.
 *
 * Every MQTT CONNECT carries an NDEATH will with the next bdSeq (0–255, wrapping), and the
 * NBIRTH of that session repeats it, so a host can tell a stale NDEATH (the will of a session
 * the broker noticed late, e.g. after kill -9) from the death of the current one. A restart must
 * therefore never reuse the bdSeq of the previous process's last CONNECT: the value is written
 * to `{data_dir}/sparkplug-bdseq` (temp file, fsync, rename) before each CONNECT is sent.
 *
 * Why a file of its own and not the buffer: the buffer stores opaque messages and knows no
 * protocol, and the bdSeq must be durable at CONNECT time, not at the next commit.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { writeDurably } from '../buffer/durable-file.js';

const FILE = 'sparkplug-bdseq';

export class BdSeq {
  private readonly file: string;
  /** The bdSeq of the last CONNECT, -1 before the first ever. */
  private last: number;
  private persistFailed = false;

  constructor(dataDir: string, private readonly log: Logger) {
    this.file = path.join(dataDir, FILE);
    this.last = read(this.file, log);
  }

  /** The bdSeq of the current (or last) connection attempt. */
  get current(): number {
    return Math.max(0, this.last);
  }

  /** Advances for a new CONNECT and makes the new value durable first. */
  next(): number {
    this.last = (this.last + 1) % 256;
    try {
      writeDurably(this.file, `${this.last}\n`);
      if (this.persistFailed) this.log.info({ file: this.file }, 'Sparkplug bdSeq is persisted again');
      this.persistFailed = false;
    } catch (err) {
      // Connecting matters more than the file: a host may then match a late NDEATH of the
      // previous process against this session after a restart, which a rebirth repairs.
      if (!this.persistFailed) this.log.error({ err, file: this.file }, `cannot persist the Sparkplug bdSeq: ${(err as Error).message}`);
      this.persistFailed = true;
    }
    return this.last;
  }
}

function read(file: string, log: Logger): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err, file }, 'cannot read the Sparkplug bdSeq; starting again at 0');
    return -1;
  }
  const n = Number(text.trim());
  if (Number.isInteger(n) && n >= 0 && n <= 255) return n;
  log.warn({ file, content: text.slice(0, 20) }, 'the Sparkplug bdSeq file is not a number 0–255; starting again at 0');
  return -1;
}
