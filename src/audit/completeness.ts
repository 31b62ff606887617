/**
 * Completeness of a floorgate stream as the receiving side sees it (SPEC §3): every data
 * message carries `seq`, one counter per gateway, +1 per message, never restarted. Loss shows
 * as a gap in seq, redelivery as a repeated seq; with `replay: live_first` the backlog arrives
 * beside live data, so a gap may open and fill later.
 *
 * No MQTT in here: a consumer feeds `AuditSession.observe()` from its own subscription (or
 * `CompletenessTracker.record()` from any decoder, e.g. a future Sparkplug one that unwraps
 * its 0–255 seq), and asks for `report(now)` whenever it likes. Memory stays bounded on runs of
 * any length: seqs are held as ranges, delays in a fixed-size histogram.
 */
import { Histogram, type DelaySummary } from './histogram.js';
import { IntervalSet } from './intervals.js';
import { jsonDecoder, type Decoded, type MessageDecoder } from './json.js';

export type { DelaySummary } from './histogram.js';
export type { Decoded, MessageDecoder, Observation } from './json.js';
export { jsonDecoder } from './json.js';

export interface RecordInfo {
  /** The message said `"historical": true` (sent from the backlog, not live). */
  readonly historical: boolean;
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
  /** The first seq audited for gaps: `since` if given, else the first seq that arrived. */
  readonly baseline: number | null;
  /** Lowest and highest seq received. */
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** Distinct seqs below the baseline: sent before the audit began, not audited for gaps. */
  readonly beforeBaseline: number;
  /** Seqs missing in all open gaps together. */
  readonly missing: number;
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

/** One gateway's stream. */
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
  private beforeBaseline = 0;
  private newestReadingTs: number | null = null;
  private lastArrivalAt: number | null = null;
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

    this.messages++;
    this.readings += info.readings;
    if (info.historical) this.historical++;
    const delays = info.historical ? this.historicalDelay : this.liveDelay;
    for (const ts of info.readingTs) {
      delays.record(info.arrivedAt - ts);
      if (this.newestReadingTs === null || ts > this.newestReadingTs) this.newestReadingTs = ts;
    }
    return 'new';
  }

  report(now: number): CompletenessReport {
    let missing = 0;
    for (const g of this.gaps) missing += g.to - g.from + 1;
    return {
      messages: this.messages,
      readings: this.readings,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      historical: this.historical,
      historicalShare: this.messages === 0 ? 0 : this.historical / this.messages,
      baseline: this.baseline,
      firstSeq: this.lowest,
      lastSeq: this.highest,
      beforeBaseline: this.beforeBaseline,
      missing,
      openGaps: this.gaps.length,
      gaps: this.gaps.slice(0, this.maxGaps).map((g) => ({ ...g, missingFor: now - g.since })),
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

export interface SessionOptions {
  /** Topic prefix of the JSON format (mqtt.topic_prefix). */
  readonly prefix: string;
  /** Audit only these gateways (they are reported even when silent); empty or absent: all. */
  readonly gateways?: readonly string[];
  /** Decodes one MQTT message; default: the JSON format under `prefix`. */
  readonly decoder?: MessageDecoder;
  readonly tracker?: TrackerOptions;
}

export interface AuditReport {
  /** No gap open in any gateway. */
  readonly complete: boolean;
  readonly gateways: Readonly<Record<string, CompletenessReport>>;
  /** Messages on data topics that could not be decoded (not counted as received). */
  readonly unparseable: number;
  readonly lastUnparseable: { readonly topic: string; readonly reason: string } | null;
  /** Messages that are not data: status, write commands, other gateways. */
  readonly ignored: number;
}

/** Routes decoded messages to one tracker per gateway. */
export class AuditSession {
  private readonly trackers = new Map<string, CompletenessTracker>();
  private readonly only: ReadonlySet<string> | null;
  private readonly decode: MessageDecoder;
  private readonly trackerOptions: TrackerOptions;
  private unparseable = 0;
  private lastUnparseable: { topic: string; reason: string } | null = null;
  private ignored = 0;

  constructor(options: SessionOptions) {
    this.decode = options.decoder ?? jsonDecoder(options.prefix);
    this.trackerOptions = options.tracker ?? {};
    const only = options.gateways ?? [];
    this.only = only.length > 0 ? new Set(only) : null;
    for (const gateway of only) this.tracker(gateway);
  }

  /** Feeds one MQTT message; returns what it was taken for. */
  observe(topic: string, payload: Buffer, arrivedAt: number): Decoded['kind'] | 'duplicate' {
    const decoded = this.decode(topic, payload);
    const gateway = decoded.kind === 'data' ? decoded.observation.gateway : decoded.kind === 'invalid' ? decoded.gateway : null;
    if (this.only !== null && gateway !== null && !this.only.has(gateway)) {
      this.ignored++;
      return 'ignored';
    }
    switch (decoded.kind) {
      case 'ignored':
        this.ignored++;
        return 'ignored';
      case 'invalid':
        this.unparseable++;
        this.lastUnparseable = { topic, reason: decoded.reason };
        return 'invalid';
      case 'data': {
        const o = decoded.observation;
        const outcome = this.tracker(o.gateway).record(o.seq, {
          historical: o.historical,
          readings: o.readingTs.length,
          readingTs: o.readingTs,
          arrivedAt,
        });
        return outcome === 'new' ? 'data' : 'duplicate';
      }
    }
  }

  /** The gateway's tracker, created on first use. */
  tracker(gateway: string): CompletenessTracker {
    let t = this.trackers.get(gateway);
    if (t === undefined) {
      t = new CompletenessTracker(this.trackerOptions);
      this.trackers.set(gateway, t);
    }
    return t;
  }

  report(now: number): AuditReport {
    const gateways: Record<string, CompletenessReport> = {};
    for (const name of [...this.trackers.keys()].sort()) gateways[name] = this.trackers.get(name)!.report(now);
    return {
      complete: Object.values(gateways).every((g) => g.openGaps === 0),
      gateways,
      unparseable: this.unparseable,
      lastUnparseable: this.lastUnparseable,
      ignored: this.ignored,
    };
  }
}
