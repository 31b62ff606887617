/**
 * Lines that do not match the pattern: counted, and logged at most once per interval. A device
 * sending garbage at 50 lines/s (wrong baud rate, noise on an RS-485 pair) must not flood the
 * journal, yet the operator must learn that it happens, how often, and what such a line looks like.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { escapeText } from './escape.js';

export class BadLineLog {
  private count = 0;
  private sinceWarn = 0;
  private last: { line: string; reason: string } | undefined;
  private lastWarnAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly port: string,
    private readonly intervalMs: number,
  ) {}

  /** Bad lines since the driver was created. */
  get total(): number {
    return this.count;
  }

  note(line: string, reason: string): void {
    this.count++;
    this.sinceWarn++;
    this.last = { line, reason };
    const wait = this.lastWarnAt + this.intervalMs - performance.now();
    if (wait <= 0) this.flush();
    // The summary of a burst goes out when the interval ends, even if no further bad line comes.
    else this.timer ??= setTimeout(() => this.flush(), wait).unref();
  }

  /** Logs what was held back, now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sinceWarn === 0 || !this.last) return;
    this.log.warn(
      { port: this.port, bad_lines: this.sinceWarn, bad_lines_total: this.count, reason: this.last.reason, last_line: escapeText(this.last.line) },
      `${this.sinceWarn} serial line${this.sinceWarn === 1 ? '' : 's'} ignored (${this.last.reason}); last: ${escapeText(this.last.line, 60)}`,
    );
    this.sinceWarn = 0;
    this.lastWarnAt = performance.now();
  }
}
