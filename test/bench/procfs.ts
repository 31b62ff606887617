/**
 * What a process costs, read from /proc (Linux), and where it may run (taskset).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

const CLOCK_TICKS = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the full line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * Seconds the process's threads spent waiting on a run queue for a CPU (schedstat): how much
 * the machine's other load held it back. 0 where the kernel has no schedstats.
 */
export function runQueueSeconds(pid: number): number {
  return schedstatSeconds(pid, 1);
}

/**
 * CPU seconds of the process's live threads, in nanoseconds (schedstat), where clock ticks of
 * 10 ms are too coarse: an idle minute is ~10 ticks. A thread that ended is not counted.
 */
export function onCpuSeconds(pid: number): number {
  return schedstatSeconds(pid, 0);
}

/** One schedstat field (0: on CPU, 1: waiting for one) summed over the threads, in seconds. */
function schedstatSeconds(pid: number, field: 0 | 1): number {
  let total = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[field]) / 1e9;
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return total;
}

/**
 * Bytes the process has had written to storage so far (/proc/PID/io write_bytes: pages it
 * dirtied, counted once until written back, what wears an SD card) and bytes it passed to
 * write calls (wchar).
 */
export function ioBytes(pid: number): { storage: number; written: number } {
  const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
  return { storage: field('write_bytes'), written: field('wchar') };
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export const MB = 2 ** 20;

export const hasTaskset = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).error === undefined && os.cpus().length > 1;

/**
 * The core the measured gateway gets to itself (as far as this machine allows), and the one
 * where the simulator, the broker and the bench itself go.
 */
export const GATEWAY_CORE = 1;
export const HELPER_CORE = 0;

/** Moves a running process (all its threads) to one core, or back to all; a no-op without taskset. */
export function pin(pid: number, core: number | 'all'): void {
  if (!hasTaskset) return;
  const cores = core === 'all' ? `0-${os.cpus().length - 1}` : String(core);
  spawnSync('taskset', ['-a', '-cp', cores, String(pid)], { stdio: 'ignore' });
}

/** The command prefix that starts a process on one core. */
export function onCore(core: number): string[] {
  return hasTaskset ? ['taskset', '-c', String(core)] : [];
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${os.availableParallelism()} cores (nproc), ${cpu}, Node ${process.version}, ${os.platform()} ${os.arch()}`;
}

/**
 * Times the process's main thread went to sleep and was woken again (voluntary context
 * switches): an idle event loop wakes once per timer or socket event, so this counts wake-ups.
 */
export function mainThreadWakeUps(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status);
  if (!m) throw new Error(`no voluntary_ctxt_switches for pid ${pid}`);
  return Number(m[1]);
}

/** Peak resident set size in bytes so far (VmHWM); undefined once the process is gone. */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
