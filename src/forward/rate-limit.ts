/**
 * A token bucket: at most perSecond takes per second on average, bursts of up to `burst` takes
 * (default a tenth of a second's worth, so a slow replay_rate spreads the backlog evenly instead
 * of in clumps).
 */
import { performance } from 'node:perf_hooks';

export class RateLimit {
  private tokens: number;
  private last = performance.now();
  private readonly capacity: number;

  /** With an explicit burst the bucket starts full; without, it starts with one token. */
  constructor(private readonly perSecond: number, burst?: number) {
    this.capacity = Math.max(1, burst ?? perSecond / 10);
    this.tokens = burst === undefined ? 1 : this.capacity;
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** ms until take() can succeed. */
  wait(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
  }
}
