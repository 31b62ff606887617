/**
 * One stream's completeness (completeness.ts says what a stream is and how the audit is fed):
 * the seqs received, held as ranges, the gaps open between them, and the delays, in a fixed-size
 * histogram, so memory grows only with loss, never with the length of the run.
 */
import { Histogram, type DelaySummary } from './histogram.js';
import { IntervalSet } from './intervals.js';

export interface RecordInfo {
  /** The message said `"historical": true` (sent from the backlog, not live). */
  readonly historical: boolean;
  /** The message's clock flag (reference §4.12); absent when trusted. */
  readonly clock?: string;
  readonly readings: number;
  /** Epoch ms of each reading inside. */
  readonly readingTs: readonly number[];
  /** Epoch ms when the message arrived here. */
  readonly arrivedAt: number;
}

/** Seqs from..to (inclusive) are missing since a higher seq arrived at `since` (epoch ms). */
export interface Gap {
  readonly from: number;
  readonly to: number;
  readonly since: number;
}

export interface GapReport extends Gap {
  /** ms the gap has been open at report time. */
  readonly missingFor: number;
  /** The seqs may have been published while the audit had lost its session: not proven lost. */
  readonly notObserved: boolean;
}

export interface CompletenessReport {
  /** Distinct seqs received. */
  readonly messages: number;
  /** Readings in those messages; a duplicate's readings are not counted again. */
  readonly readings: number;
  /** Arrivals of a seq already received (at-least-once redelivery; legal, but counted). */
  readonly duplicates: number;
  /** Distinct seqs that arrived after a higher one. */
  readonly outOfOrder: number;
  /** Distinct messages flagged historical, and their share of `messages` (0–1). */
  readonly historical: number;
  readonly historicalShare: number;
  /**
   * Readings whose clock the gateway did not trust (reference §4.12): flagged (unsynced, or
   * stepped back) and corrected from the monotonic clock.
   */
  readonly clock: { readonly flagged: number; readonly corrected: number };
  /** The first seq audited for gaps: `since` if given, else the first seq that arrived. */
  readonly baseline: number | null;
  /** Lowest and highest seq received. */
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** Distinct seqs below the baseline: sent before the audit began, not audited for gaps. */
  readonly beforeBaseline: number;
  /** Seqs in open gaps the audit could have seen: lost upstream. */
  readonly missing: number;
  /** Seqs in open gaps that may fall in a window the audit did not observe (session lost). */
  readonly notObserved: number;
  /** Open gaps, missing and not observed. */
  readonly openGaps: number;
  /** The lowest open gaps (at most `maxGaps` of them), ascending. */
  readonly gaps: readonly GapReport[];
  /** End-to-end delay per reading, arrival − reading ts, in ms: live and backlog apart. */
  readonly delay: { readonly live: DelaySummary; readonly historical: DelaySummary };
  /** The newest reading ts received, and how old it is at report time (ms). */
  readonly newestReadingTs: number | null;
  readonly newestReadingAge: number | null;
  readonly lastArrivalAt: number | null;
}

export interface TrackerOptions {
  /**
   * The first seq expected. Without it the first seq that arrives is the baseline (an audit
   * that joins mid-stream); with it, seqs from `since` up to the first arrival are a gap.
   */
  readonly since?: number;
  /** Gaps listed in a report (all are counted). Default 100. */
  readonly maxGaps?: number;
}

/** One stream: a gateway's seqs of one epoch. */
export class CompletenessTracker {
  private readonly seen = new IntervalSet();
  /** Open gaps within [baseline, frontier), ascending, disjoint: the complement of `seen` there. */
  private readonly gaps: Array<{ from: number; to: number; since: number }> = [];
  private readonly maxGaps: number;
  private baseline: number | null;
  /** The lowest seq ≥ baseline that no arrival has reached yet. */
  private frontier: number | null;
  private lowest: number | null = null;
  private highest: number | null = null;
  private messages = 0;
  private readings = 0;
  private duplicates = 0;
  private outOfOrder = 0;
  private historical = 0;
  private readonly clock = { flagged: 0, corrected: 0 };
  private beforeBaseline = 0;
  private newestReadingTs: number | null = null;
  private lastArrivalAt: number | null = null;
  /** Open gaps wholly below this seq may be the audit's own blind spot (see sessionLost). */
  private notObservedBelow = 0;
  /** The audit's session was lost and no live message has arrived since. */
  private awaitingLive = false;
  private readonly liveDelay = new Histogram();
  private readonly historicalDelay = new Histogram();

  constructor(options: TrackerOptions = {}) {
    if (options.since !== undefined) checkSeq(options.since);
    this.baseline = options.since ?? null;
    this.frontier = this.baseline;
    this.maxGaps = options.maxGaps ?? 100;
  }

  /** Ranges held in memory: what grows only with loss, never with the length of the run. */
  get trackedRanges(): number {
    return this.seen.rangeCount + this.gaps.length;
  }

  get openGaps(): number {
    return this.gaps.length;
  }

  /**
   * The audit's MQTT session was lost: what was published while it was away never reaches it.
   * A gateway publishes its live messages in seq order and its backlog is older than them, so
   * everything published meanwhile lies below the first live seq that arrives next: open gaps
   * down there are not observed rather than missing. Until that live seq, all open gaps are.
   */
  sessionLost(): void {
    this.awaitingLive = true;
  }

  /** Records one arrival; returns whether its seq was new or a duplicate. */
  record(seq: number, info: RecordInfo): 'new' | 'duplicate' {
    checkSeq(seq);
    this.lastArrivalAt = info.arrivedAt;
    if (!this.seen.add(seq)) {
      this.duplicates++;
      return 'duplicate';
    }
    if (this.highest !== null && seq < this.highest) this.outOfOrder++;
    if (this.highest === null || seq > this.highest) this.highest = seq;
    if (this.lowest === null || seq < this.lowest) this.lowest = seq;
    if (this.baseline === null) this.baseline = this.frontier = seq;

    if (seq < this.baseline) {
      this.beforeBaseline++;
    } else if (seq >= this.frontier!) {
      if (seq > this.frontier!) this.gaps.push({ from: this.frontier!, to: seq - 1, since: info.arrivedAt });
      this.frontier = seq + 1;
    } else {
      this.fill(seq);
    }

    if (this.awaitingLive && !info.historical) {
      this.notObservedBelow = Math.max(this.notObservedBelow, seq);
      this.awaitingLive = false;
    }
    this.messages++;
    this.readings += info.readings;
    if (info.historical) this.historical++;
    if (info.clock === 'corrected') this.clock.corrected += info.readings;
    else if (info.clock !== undefined) this.clock.flagged += info.readings;
    const delays = info.historical ? this.historicalDelay : this.liveDelay;
    for (const ts of info.readingTs) {
      delays.record(info.arrivedAt - ts);
      if (this.newestReadingTs === null || ts > this.newestReadingTs) this.newestReadingTs = ts;
    }
    return 'new';
  }

  /** blind: the audit is not subscribed right now, so any open gap may still be filled unseen. */
  report(now: number, blind = false): CompletenessReport {
    // No gap straddles notObservedBelow: that seq itself arrived.
    const unseen = (g: Gap) => blind || this.awaitingLive || g.to < this.notObservedBelow;
    let missing = 0;
    let notObserved = 0;
    for (const g of this.gaps) {
      if (unseen(g)) notObserved += g.to - g.from + 1;
      else missing += g.to - g.from + 1;
    }
    return {
      messages: this.messages,
      readings: this.readings,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      historical: this.historical,
      historicalShare: this.messages === 0 ? 0 : this.historical / this.messages,
      clock: { ...this.clock },
      baseline: this.baseline,
      firstSeq: this.lowest,
      lastSeq: this.highest,
      beforeBaseline: this.beforeBaseline,
      missing,
      notObserved,
      openGaps: this.gaps.length,
      gaps: this.gaps.slice(0, this.maxGaps).map((g) => ({ ...g, missingFor: now - g.since, notObserved: unseen(g) })),
      delay: { live: this.liveDelay.summary(), historical: this.historicalDelay.summary() },
      newestReadingTs: this.newestReadingTs,
      newestReadingAge: this.newestReadingTs === null ? null : now - this.newestReadingTs,
      lastArrivalAt: this.lastArrivalAt,
    };
  }

  /** A new seq inside [baseline, frontier) lies in exactly one open gap: shrink or split it. */
  private fill(seq: number): void {
    let lo = 0;
    let hi = this.gaps.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const g = this.gaps[mid];
      if (seq < g.from) hi = mid - 1;
      else if (seq > g.to) lo = mid + 1;
      else {
        if (g.from === g.to) this.gaps.splice(mid, 1);
        else if (seq === g.from) g.from++;
        else if (seq === g.to) g.to--;
        else {
          this.gaps.splice(mid + 1, 0, { from: seq + 1, to: g.to, since: g.since });
          g.to = seq - 1;
        }
        return;
      }
    }
    throw new Error(`audit invariant broken: new seq ${seq} below the frontier but in no open gap`);
  }
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`seq must be a non-negative integer, got ${seq}`);
}
