/**
 * Where floorgate learns whether the system clock is synchronised: the kernel (adjtimex(2), the
 * same flag `timedatectl` shows as "System clock synchronized" and chrony or ntpd clear once they
 * discipline the clock), or a file a time daemon that does not discipline the kernel writes (a
 * container without CAP_SYS_TIME, a GPS receiver's own program, a site script).
 */
import fs from 'node:fs';
import { libc } from '../libc.js';

/** true: synchronised; false: not; null: cannot tell (taken as not synchronised). */
export type SyncSource = () => boolean | null;

/** adjtimex's return value when the clock is not synchronised. */
const TIME_ERROR = 5;
/** struct timex's status bit the kernel keeps set until a time daemon clears it. */
const STA_UNSYNC = 0x40;
/** sizeof(struct timex) on 64-bit Linux (208), rounded up for 32-bit ARM's (smaller) layout. */
const TIMEX_BYTES = 256;
/** offsetof(struct timex, status): after modes and four longs, at a long's alignment. */
const statusOffset = (longBytes: number) => longBytes + 4 * longBytes;

let adjtimex: ((buf: Buffer) => unknown) | undefined;

/** adjtimex(2) with modes 0 (read only; needs no privilege): its return value and timex.status, or null when the call fails. */
export function readKernelClock(): { state: number; status: number } | null {
  adjtimex ??= libc().func('int adjtimex(void *buf)') as (buf: Buffer) => unknown;
  const longBytes = process.arch === 'arm' || process.arch === 'ia32' ? 4 : 8;
  const buf = Buffer.alloc(TIMEX_BYTES);
  const state = adjtimex(buf) as number;
  return state < 0 ? null : { state, status: buf.readInt32LE(statusOffset(longBytes)) };
}

/** The kernel's view: synchronised unless adjtimex says TIME_ERROR or STA_UNSYNC. */
export function kernelSyncSource(): SyncSource {
  return () => {
    try {
      const clock = readKernelClock();
      return clock && clock.state !== TIME_ERROR && (clock.status & STA_UNSYNC) === 0;
    } catch {
      return null;
    }
  };
}

const SYNCED = /^\s*(synchroni[sz]ed|yes|1)\s*$/i;
const UNSYNCED = /^\s*(unsynchroni[sz]ed|no|0)\s*$/i;

/**
 * A file holding `synchronised` (or `synchronized`, `yes`, `1`) or `unsynchronised` (`no`, `0`).
 * Missing or anything else: cannot tell.
 */
export function fileSyncSource(file: string): SyncSource {
  return () => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return null;
    }
    return SYNCED.test(text) ? true : UNSYNCED.test(text) ? false : null;
  };
}

/** clock.sync_source: `kernel` or a file's absolute path. */
export function syncSourceOf(setting: string): SyncSource {
  return setting === 'kernel' ? kernelSyncSource() : fileSyncSource(setting);
}
