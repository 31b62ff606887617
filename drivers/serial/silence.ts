/**
 * `stale_after` for a listen-only instrument. A scale whose cable is pulled simply stops talking
 * (no device node vanishes, nothing fails), so without a watch its last value would stay good
 * forever. One timer per device, re-armed lazily: a matching line only notes the time, so a
 * scale streaming 50 lines/s costs no timer churn.
 */
export class SilenceWatch {
  private lastMatch = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The silence was reported; the next matching line starts the watch again. */
  private silent = false;

  constructor(
    private readonly afterMs: number,
    private readonly onSilence: () => void,
  ) {}

  /** Watches from now (subscribed, port open). */
  start(): void {
    this.stop();
    this.lastMatch = performance.now();
    this.arm(this.afterMs);
  }

  matched(): void {
    this.lastMatch = performance.now();
    if (!this.silent) return;
    this.silent = false;
    this.arm(this.afterMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.silent = false;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.check(), ms);
  }

  private check(): void {
    const quiet = performance.now() - this.lastMatch;
    if (quiet < this.afterMs) return this.arm(this.afterMs - quiet);
    this.timer = undefined;
    this.silent = true;
    this.onSilence();
  }
}
