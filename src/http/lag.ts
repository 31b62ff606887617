/**
 * Event-loop lag: how late a timer fires beyond its interval. A gateway whose loop stalls delays
 * every poll and every PUBACK, so /healthz reports it.
 *
 * perf_hooks' histogram records the whole interval between samples (an idle loop reads about
 * `resolution`), so the resolution is subtracted. Values are kept per window, so a stall shows
 * for one to two windows and then ages out instead of dominating a lifetime percentile.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LagMonitor {
  /** p99 lag in ms over the current and the previous window. */
  p99Ms(): number;
  /** Worst lag in ms over the current and the previous window. */
  maxMs(): number;
  stop(): void;
}

export function startLagMonitor(opts: { resolutionMs?: number; windowMs?: number } = {}): LagMonitor {
  const resolutionMs = opts.resolutionMs ?? 20;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  let previous = { p99: 0, max: 0 };
  const beyond = (ns: number) => Math.max(0, Math.round((ns / 1e6 - resolutionMs) * 100) / 100);
  const current = (h: IntervalHistogram) => (h.count === 0 ? { p99: 0, max: 0 } : { p99: beyond(h.percentile(99)), max: beyond(h.max) });
  const timer = setInterval(() => {
    previous = current(histogram);
    histogram.reset();
  }, opts.windowMs ?? 10_000).unref();

  return {
    p99Ms: () => Math.max(previous.p99, current(histogram).p99),
    maxMs: () => Math.max(previous.max, current(histogram).max),
    stop: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
