/**
 * Small files that must survive a power cut whole: written to a temp file, fsynced, renamed over
 * the old one, and the directory fsynced so the rename itself is on disk. A reader sees the old
 * content or the new, never a mix or an empty file.
 */
import fs from 'node:fs';
import path from 'node:path';

export function writeDurably(file: string, text: string): void {
  writeWhole(file, text);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

/**
 * The same without the directory's fsync: a power cut may bring back the old content (whole) in
 * place of the new, never an empty file. For a record whose older value is still true.
 */
export function writeWhole(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** The file's text, or null when it does not exist. */
export function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
