import { performance } from 'node:perf_hooks';

/**
 * At most one warning per interval for a repeating problem (garbled frames, bad lines): the
 * first at once, the rest summed up when the interval ends — even if nothing further goes wrong,
 * so a burst's summary is never left unsaid. `write` logs what was held back and returns false
 * when there was nothing to log.
 */
export class LogThrottle {
  private lastAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly write: () => boolean,
  ) {}

  /** Something new was held back. */
  noted(): void {
    const wait = this.lastAt + this.intervalMs - performance.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait).unref();
  }

  /** Logs what was held back, now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.write()) this.lastAt = performance.now();
  }
}
