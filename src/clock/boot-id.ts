/**
 * The kernel's id of this boot: the monotonic clock starts again at every boot, so a reading's
 * monotonic time means something only next to the boot it was taken in.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/**
 * The boot id; where the kernel offers none (not Linux) one made up for this process, so readings
 * of an earlier run are never taken for this boot's and corrected with the wrong clock.
 */
export function readBootId(): string {
  try {
    return fs.readFileSync(BOOT_ID_FILE, 'utf8').trim() || randomUUID();
  } catch {
    return randomUUID();
  }
}
