import { describe, expect, it } from 'vitest';
import { DrainTracker } from '../../src/http/ui/drain.js';

/** Feeds one sample a second: depths[i] at t = i s. */
function feed(tracker: DrainTracker, depths: number[], connected: boolean | ((i: number) => boolean), from = 0): void {
  depths.forEach((depth, i) => tracker.sample((from + i) * 1000, depth, typeof connected === 'boolean' ? connected : connected(from + i)));
}

describe('DrainTracker', () => {
  it('says nothing until it has seen two seconds of samples', () => {
    const t = new DrainTracker();
    feed(t, [5000, 4000], true);
    expect(t.estimate()).toEqual({ rate_per_s: null, backlog_peak: null, progress: null, eta_s: null });
  });

  it('reports growth, and no ETA, while the uplink is down', () => {
    const t = new DrainTracker();
    feed(t, [0, 100, 200, 300, 400, 500], false);
    expect(t.estimate()).toEqual({ rate_per_s: 100, backlog_peak: null, progress: null, eta_s: null });
  });

  it('replays a backlog from the reconnect: net rate, progress from the depth it started at, ETA', () => {
    const t = new DrainTracker();
    // Outage: 10 s growing to 10,000; then the uplink returns and the depth falls 800/s.
    const outage = Array.from({ length: 11 }, (_, i) => i * 1000);
    feed(t, outage, false);
    feed(t, [9000, 8200], true, 11);
    // Two seconds after the reconnect are needed for a rate; the outage's growth is not mixed in.
    expect(t.estimate()).toEqual({ rate_per_s: null, backlog_peak: null, progress: null, eta_s: null });
    feed(t, [7400], true, 13);
    expect(t.estimate()).toEqual({ rate_per_s: -800, backlog_peak: 10_000, progress: 0.26, eta_s: 9 });
    feed(t, [6600, 5800, 5000], true, 14);
    expect(t.estimate()).toEqual({ rate_per_s: -800, backlog_peak: 10_000, progress: 0.5, eta_s: 6 });
  });

  it('measures a steady drain exactly', () => {
    const t = new DrainTracker();
    feed(t, Array.from({ length: 11 }, (_, i) => 100_000 - i * 2000), true);
    expect(t.estimate()).toEqual({ rate_per_s: -2000, backlog_peak: 100_000, progress: 0.2, eta_s: 40 });
  });

  it('counts new messages against the drain: the rate is net', () => {
    const t = new DrainTracker();
    // 1,500 acknowledged and 500 committed each second.
    feed(t, Array.from({ length: 6 }, (_, i) => 50_000 - i * 1000), true);
    expect(t.estimate()).toMatchObject({ rate_per_s: -1000, eta_s: 45 });
  });

  it('ends the replay once caught up, and forgets the peak', () => {
    const t = new DrainTracker();
    feed(t, [20_000, 18_000, 16_000, 14_000, 12_000], true);
    expect(t.estimate()).toMatchObject({ backlog_peak: 20_000, eta_s: 6 });
    // The last 2 s of a drain are not worth a progress bar: it reads as caught up.
    feed(t, [10_000, 8000, 6000, 4000, 2000], true, 5);
    expect(t.estimate()).toMatchObject({ backlog_peak: null, eta_s: null });
    feed(t, [2, 1, 3, 2, 1, 2, 3, 1, 2, 1, 2], true, 10);
    expect(t.estimate()).toMatchObject({ backlog_peak: null, progress: null, eta_s: null });
  });

  it('does not read the jitter of a live gateway as a replay', () => {
    const t = new DrainTracker();
    // A busy live gateway: a few thousand messages between commit and PUBACK, never the same.
    const jitter = [3200, 2900, 3500, 3100, 2700, 3300, 3600, 2800, 3000, 3400, 2600, 3100, 3300, 2900, 2500];
    for (let i = 0; i < jitter.length; i++) {
      t.sample(i * 1000, jitter[i], true);
      expect(t.estimate().eta_s, `after sample ${i}`).toBeNull();
    }
  });

  it('shows no drain while disconnected, even if the depth falls (max_age drops)', () => {
    const t = new DrainTracker();
    feed(t, [5000, 4000, 3000, 2000], false);
    expect(t.estimate()).toMatchObject({ rate_per_s: -1000, eta_s: null, progress: null });
  });
});
