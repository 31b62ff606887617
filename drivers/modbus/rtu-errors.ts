/**
 * Problems on an RTU line (failed exchanges, stray bytes), counted by kind and logged at most
 * once per interval. A noisy RS-485 pair (no termination, a missing shield, a drive's switching
 * noise) can garble dozens of frames a second; the journal must say that it happens, how often
 * and what the last one looked like, without one line per frame.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';

export type RtuErrorKind =
  | 'timeout' | 'crc' | 'short' | 'noise' | 'wrong_unit' | 'wrong_function' | 'malformed' | 'exception' | 'stray';

export class RtuErrorLog {
  private readonly totals = new Map<RtuErrorKind, number>();
  private held = new Map<RtuErrorKind, number>();
  private last = '';
  private lastWarnAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    /** Who failed, for the message: "unit 3 on /dev/ttyUSB0". */
    private readonly subject: string,
    private readonly intervalMs: number,
  ) {}

  /** Failures since this log was created, by kind. */
  counts(): Partial<Record<RtuErrorKind, number>> {
    return Object.fromEntries(this.totals);
  }

  note(kind: RtuErrorKind, message: string): void {
    this.totals.set(kind, (this.totals.get(kind) ?? 0) + 1);
    this.held.set(kind, (this.held.get(kind) ?? 0) + 1);
    this.last = message;
    const wait = this.lastWarnAt + this.intervalMs - performance.now();
    if (wait <= 0) this.flush();
    // A burst's summary goes out when the interval ends, even if nothing else fails.
    else this.timer ??= setTimeout(() => this.flush(), wait).unref();
  }

  /** Logs what was held back, now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.held.size === 0) return;
    const byKind = Object.fromEntries(this.held);
    const n = [...this.held.values()].reduce((a, b) => a + b, 0);
    const kinds = [...this.held].map(([k, c]) => `${k} ${c}`).join(', ');
    this.log.warn(
      { failures: byKind, failures_total: this.counts(), last_error: this.last },
      `${this.subject}: ${n} problem${n === 1 ? '' : 's'} (${kinds}); last: ${this.last}`,
    );
    this.held = new Map();
    this.lastWarnAt = performance.now();
  }
}
