/**
 * Problems on an RTU line (failed exchanges, stray bytes), counted by kind and logged at most
 * once per interval. A noisy RS-485 pair (no termination, a missing shield, a drive's switching
 * noise) can garble dozens of frames a second; the journal must say that it happens, how often
 * and what the last one looked like, without one line per frame.
 */
import type { Logger } from 'pino';
import { LogThrottle } from '../../src/log-throttle.js';

export type RtuErrorKind =
  | 'timeout' | 'crc' | 'short' | 'noise' | 'wrong_unit' | 'wrong_function' | 'malformed' | 'exception' | 'stray';

export class RtuErrorLog {
  private readonly totals = new Map<RtuErrorKind, number>();
  private held = new Map<RtuErrorKind, number>();
  private last = '';
  private readonly throttle: LogThrottle;

  constructor(
    private readonly log: Logger,
    /** Who failed, for the message: "unit 3 on /dev/ttyUSB0". */
    private readonly subject: string,
    intervalMs: number,
  ) {
    this.throttle = new LogThrottle(intervalMs, () => this.write());
  }

  /** Failures since this log was created, by kind. */
  counts(): Partial<Record<RtuErrorKind, number>> {
    return Object.fromEntries(this.totals);
  }

  note(kind: RtuErrorKind, message: string): void {
    this.totals.set(kind, (this.totals.get(kind) ?? 0) + 1);
    this.held.set(kind, (this.held.get(kind) ?? 0) + 1);
    this.last = message;
    this.throttle.noted();
  }

  /** Logs what was held back, now. */
  flush(): void {
    this.throttle.flush();
  }

  private write(): boolean {
    if (this.held.size === 0) return false;
    const byKind = Object.fromEntries(this.held);
    const n = [...this.held.values()].reduce((a, b) => a + b, 0);
    const kinds = [...this.held].map(([k, c]) => `${k} ${c}`).join(', ');
    this.log.warn(
      { failures: byKind, failures_total: this.counts(), last_error: this.last },
      `${this.subject}: ${n} problem${n === 1 ? '' : 's'} (${kinds}); last: ${this.last}`,
    );
    this.held = new Map();
    return true;
  }
}
