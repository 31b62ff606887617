/**
 * Backlog drain progress for the status page, derived from the buffer depth over time: nothing
 * else reports it, and depth is what an operator waits on anyway. The rate is the least-squares
 * slope of the depth over the last WINDOW_MS, so one lumpy commit does not swing the ETA; it is
 * the net rate (acknowledged minus newly committed), which is what empties the buffer. Only
 * samples since the uplink last came up or went down count: a replay starts at the reconnect,
 * and the outage's growth before it would drag the slope for a whole window.
 */

export interface DrainEstimate {
  /** Change of the buffer depth in messages/s: negative while draining, positive while growing; null until enough samples. */
  rate_per_s: number | null;
  /** The depth this drain started from (the deepest seen since), null when not draining. */
  backlog_peak: number | null;
  /** Share of backlog_peak already sent, 0–1; null when not draining. */
  progress: number | null;
  /** Seconds until the buffer is empty at the current rate; null when not draining. */
  eta_s: number | null;
}

const WINDOW_MS = 10_000;
/** The rate needs samples spanning at least this long. */
const MIN_SPAN_MS = 2_000;
/**
 * A live gateway always holds a few messages between commit and PUBACK, and their jitter must
 * not read as a replay: the fall must be steady (the slope this many standard errors below
 * zero) and still have at least MIN_ETA_S to go.
 */
const MIN_T = 4;
const MIN_ETA_S = 2;

interface Sample {
  t: number;
  depth: number;
  connected: boolean;
}

export class DrainTracker {
  private readonly samples: Sample[] = [];
  private peak: number | null = null;

  /** t: a monotonic clock in ms; depth: committed, unacknowledged messages. */
  sample(t: number, depth: number, connected: boolean): void {
    this.samples.push({ t, depth, connected });
    while (this.samples.length > 2 && this.samples[0].t < t - WINDOW_MS) this.samples.shift();
    const fit = this.fit();
    const draining = connected && fit !== null && fit.rate < 0 && fit.rate < -MIN_T * fit.error && depth / -fit.rate >= MIN_ETA_S;
    // The drain began at most a window ago (its start, the reconnect, may be just outside the run
    // the rate is fitted on), so the window's deepest sample seeds the peak.
    if (draining) this.peak = Math.max(this.peak ?? Math.max(...this.samples.map((s) => s.depth)), depth);
    else this.peak = null;
  }

  estimate(): DrainEstimate {
    const rate = this.fit()?.rate ?? null;
    const last = this.samples[this.samples.length - 1];
    if (this.peak === null || rate === null) return { rate_per_s: round(rate), backlog_peak: null, progress: null, eta_s: null };
    return {
      rate_per_s: round(rate),
      backlog_peak: this.peak,
      progress: this.peak > 0 ? Math.round(Math.min(1, Math.max(0, 1 - last.depth / this.peak)) * 1000) / 1000 : 1,
      eta_s: Math.round(last.depth / -rate),
    };
  }

  /** Least-squares slope of depth over time and its standard error, both in messages/s. */
  private fit(): { rate: number; error: number } | null {
    const all = this.samples;
    let first = all.length - 1;
    while (first > 0 && all[first - 1].connected === all[all.length - 1].connected) first--;
    const run = all.slice(first);
    const n = run.length;
    if (n < 3 || run[n - 1].t - run[0].t < MIN_SPAN_MS) return null;
    let st = 0;
    let sd = 0;
    for (const s of run) {
      st += s.t;
      sd += s.depth;
    }
    const mt = st / n;
    const md = sd / n;
    let cov = 0;
    let vt = 0;
    for (const s of run) {
      cov += (s.t - mt) * (s.depth - md);
      vt += (s.t - mt) ** 2;
    }
    const slope = cov / vt;
    let residuals = 0;
    for (const s of run) residuals += (s.depth - md - slope * (s.t - mt)) ** 2;
    return { rate: slope * 1000, error: Math.sqrt(residuals / (n - 2) / vt) * 1000 };
  }
}

function round(rate: number | null): number | null {
  return rate === null ? null : Math.round(rate * 10) / 10;
}
