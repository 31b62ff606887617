/**
 * Lines that do not match the pattern: counted, and logged at most once per interval. A device
 * sending garbage at 50 lines/s (wrong baud rate, noise on an RS-485 pair) must not flood the
 * journal, yet the operator must learn that it happens, how often, and what such a line looks like.
 */
import type { Logger } from 'pino';
import { LogThrottle } from '../../src/log-throttle.js';
import { escapeText } from './escape.js';

export class BadLineLog {
  private count = 0;
  private sinceWarn = 0;
  private last: { line: string; reason: string } | undefined;
  private readonly throttle: LogThrottle;

  constructor(
    private readonly log: Logger,
    private readonly port: string,
    intervalMs: number,
  ) {
    this.throttle = new LogThrottle(intervalMs, () => this.write());
  }

  /** Bad lines since the driver was created. */
  get total(): number {
    return this.count;
  }

  note(line: string, reason: string): void {
    this.count++;
    this.sinceWarn++;
    this.last = { line, reason };
    this.throttle.noted();
  }

  /** Logs what was held back, now. */
  flush(): void {
    this.throttle.flush();
  }

  private write(): boolean {
    if (this.sinceWarn === 0 || !this.last) return false;
    this.log.warn(
      { port: this.port, bad_lines: this.sinceWarn, bad_lines_total: this.count, reason: this.last.reason, last_line: escapeText(this.last.line) },
      `${this.sinceWarn} serial line${this.sinceWarn === 1 ? '' : 's'} ignored (${this.last.reason}); last: ${escapeText(this.last.line, 60)}`,
    );
    this.sinceWarn = 0;
    return true;
  }
}
