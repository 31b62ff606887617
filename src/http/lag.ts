/**
 * Event-loop lag: how late the poll timers fire beyond when they were due. A gateway whose loop
 * stalls delays every poll and every PUBACK, so /healthz reports it.
 *
 * The scheduler reports each poll tick's lateness (DeviceRunnerOptions.timerLate): the loop is
 * measured by timers that wake anyway. A sampler of its own (perf_hooks'
 * monitorEventLoopDelay) would wake the process every `resolution` ms: at 20 ms that was ~50
 * wake-ups a second and most of an idle gateway's CPU. Values are kept per window, so a stall
 * shows for one to two windows and then ages out instead of dominating a lifetime percentile;
 * windows turn over when read or written, not on a timer.
 */
import { createHistogram, performance } from 'node:perf_hooks';

export interface LagMonitor {
  /** One timer fired `ms` later than it was due. */
  record(ms: number): void;
  /** p99 lag in ms over the current and the previous window. */
  p99Ms(): number;
  /** Worst lag in ms over the current and the previous window. */
  maxMs(): number;
}

interface Summary {
  readonly p99: number;
  readonly max: number;
}

const NONE: Summary = { p99: 0, max: 0 };
const MAX_LAG_US = 60_000_000;

export function createLagMonitor(opts: { windowMs?: number; now?: () => number } = {}): LagMonitor {
  const windowMs = opts.windowMs ?? 10_000;
  const now = opts.now ?? (() => performance.now());
  // Microseconds: the histogram takes integers ≥ 1. Two significant figures up to a minute take
  // 20 KB; the default (three, up to 2^53) took 360 KB. A longer stall reads as a minute: the
  // watchdog has failed the gateway long before.
  const histogram = createHistogram({ lowest: 1, highest: MAX_LAG_US, figures: 2 });
  const ms = (us: number) => Math.round(us / 10) / 100;
  const summary = (): Summary => (histogram.count === 0 ? NONE : { p99: ms(histogram.percentile(99)), max: ms(histogram.max) });
  let previous = NONE;
  let windowStart = now();
  const turn = () => {
    const windows = Math.floor((now() - windowStart) / windowMs);
    if (windows === 0) return;
    // Two or more windows without a look: the last full one saw nothing either.
    previous = windows === 1 ? summary() : NONE;
    histogram.reset();
    windowStart += windows * windowMs;
  };
  return {
    record: (lateMs) => {
      turn();
      histogram.record(Math.min(MAX_LAG_US, Math.max(1, Math.round(lateMs * 1000))));
    },
    p99Ms: () => {
      turn();
      return Math.max(previous.p99, summary().p99);
    },
    maxMs: () => {
      turn();
      return Math.max(previous.max, summary().max);
    },
  };
}
