/**
 * CPU time and memory of a process, as the kernel accounts them. For a program under qemu-user
 * the process is the emulator running it, so this is what the CPU really spends and holds:
 * translation, the translated code cache and the guest program together.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface Usage {
  /** User + system CPU time of all threads so far, ms. */
  readonly cpuMs: number;
  /** Resident set now, and its peak so far, KiB. */
  readonly rssKiB: number;
  readonly peakRssKiB: number;
}

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

export function sampleUsage(pid: number): Usage {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, rssKiB: kib('VmRSS'), peakRssKiB: kib('VmHWM') };
}
