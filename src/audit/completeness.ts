/**
 * Completeness of a floorgate stream as the receiving side sees it (reference §3): every data
 * message carries `seq`, one counter per gateway, +1 per message, never restarted. Loss shows
 * as a gap in seq, redelivery as a repeated seq; with `replay: live_first` the backlog arrives
 * beside live data, so a gap may open and fill later.
 *
 * Streams: seq is unique within the gateway's `epoch` (reference §4.9), which changes only when the
 * gateway could not keep seq continuous (its data dir was wiped). Each (gateway, epoch) is its
 * own stream with its own tracker: no gap is computed across epochs, so a new epoch starting
 * at seq 1 is a new stream, not a run of duplicates. Messages without epoch (gateways before
 * epochs) form the stream of epoch null.
 *
 * The audit's own blind spots: when its MQTT link drops and the broker does not resume its
 * session, whatever was published meanwhile never reaches it. The consumer says so
 * (`AuditSession.linkLost` / `linkRestored`), and the gaps that may lie in that window are
 * reported as "not observed" instead of missing (see CompletenessTracker.sessionLost).
 *
 * No MQTT in here: a consumer feeds `AuditSession.observe()` from its own subscription (or
 * `CompletenessTracker.record()` from any decoder), and asks for `report(now)` whenever it
 * likes. This file routes messages to streams and keeps the audit's own outages; one stream's
 * tracker is tracker.ts. Memory stays bounded on runs of any length: seqs are held as ranges,
 * delays in a fixed-size histogram.
 */
import { jsonDecoder, type Decoded, type MessageDecoder } from './json.js';
import { CompletenessTracker, type CompletenessReport, type TrackerOptions } from './tracker.js';

// The audit's public entry point (README): everything a consumer needs is exported here.
export type { DelaySummary } from './histogram.js';
export type { Decoded, MessageDecoder, Observation } from './json.js';
export { jsonDecoder } from './json.js';
export { CompletenessTracker } from './tracker.js';
export type { CompletenessReport, Gap, GapReport, RecordInfo, TrackerOptions } from './tracker.js';

export interface SessionOptions {
  /** Topic prefix of the JSON format (mqtt.topic_prefix). */
  readonly prefix: string;
  /** Audit only these gateways (they are reported even when silent); empty or absent: all. */
  readonly gateways?: readonly string[];
  /** Decodes one MQTT message; default: the JSON format under `prefix`. */
  readonly decoder?: MessageDecoder;
  /** For every gateway's first stream; later epochs are audited from their first arrival. */
  readonly tracker?: TrackerOptions;
}

/** One stream's report. */
export interface StreamReport extends CompletenessReport {
  /** null: messages without epoch (a gateway before epochs). */
  readonly epoch: string | null;
}

/**
 * A gateway: its current stream's figures (the newest epoch seen: the only one, but for
 * a data dir wiped during the audit), and every stream in the order they first arrived.
 */
export interface GatewayReport extends StreamReport {
  /** Empty while nothing arrived from the gateway. */
  readonly streams: readonly StreamReport[];
}

/** A time the audit's own link was down after it had subscribed. */
export interface Outage {
  readonly from: number;
  /** When it was subscribed again; null while still down. */
  readonly to: number | null;
  /** The broker kept the session (and what was published meanwhile); null while still down. */
  readonly sessionResumed: boolean | null;
}

export interface AuditReport {
  /** No gap open in any stream of any gateway (missing or not observed). */
  readonly complete: boolean;
  readonly gateways: Readonly<Record<string, GatewayReport>>;
  /** Messages on data topics that could not be decoded (not counted as received). */
  readonly unparseable: number;
  readonly lastUnparseable: { readonly topic: string; readonly reason: string } | null;
  /** Messages that are not data: status, write commands, other gateways. */
  readonly ignored: number;
  /** Times the audit's own link went down after it had subscribed. */
  readonly disconnects: number;
  /** Of those, the times the broker had not kept its session when it came back. */
  readonly sessionsLost: number;
  /** The last MAX_OUTAGES of them. */
  readonly outages: readonly Outage[];
  /**
   * ms in which published messages may never have reached the audit: outages whose session the
   * broker did not resume, and one still going on (its messages may be queued, unseen).
   */
  readonly notObservedMs: number;
}

const MAX_OUTAGES = 100;

/** A gateway's streams, one tracker per epoch. */
class GatewayStreams {
  private readonly streams: { epoch: string | null; tracker: CompletenessTracker }[] = [];
  /** The first stream's tracker, made up front so a silent gateway reports its `since`. */
  private first: CompletenessTracker | null;

  constructor(private readonly options: TrackerOptions) {
    this.first = new CompletenessTracker(options);
  }

  stream(epoch: string | null): CompletenessTracker {
    // Mostly the current epoch: search from the newest.
    for (let i = this.streams.length - 1; i >= 0; i--) if (this.streams[i].epoch === epoch) return this.streams[i].tracker;
    // A new epoch restarts seq where the gateway's new buffer begins: audited from its first arrival.
    const tracker = this.first ?? new CompletenessTracker({ maxGaps: this.options.maxGaps });
    this.first = null;
    this.streams.push({ epoch, tracker });
    return tracker;
  }

  sessionLost(): void {
    this.first?.sessionLost();
    for (const s of this.streams) s.tracker.sessionLost();
  }

  report(now: number, blind: boolean): GatewayReport {
    const streams = this.streams.map((s) => ({ epoch: s.epoch, ...s.tracker.report(now, blind) }));
    const current = streams.at(-1) ?? { epoch: null, ...this.first!.report(now, blind) };
    return { ...current, streams };
  }
}

/** Routes decoded messages to one tracker per gateway and epoch. */
export class AuditSession {
  private readonly gateways = new Map<string, GatewayStreams>();
  private readonly only: ReadonlySet<string> | null;
  private readonly decode: MessageDecoder;
  private readonly trackerOptions: TrackerOptions;
  private unparseable = 0;
  private lastUnparseable: { topic: string; reason: string } | null = null;
  private ignored = 0;
  private disconnects = 0;
  private sessionsLost = 0;
  private readonly outages: { from: number; to: number | null; sessionResumed: boolean | null }[] = [];
  /** Not observed in outages that ended and were dropped from `outages`. */
  private notObservedMsDropped = 0;

  constructor(options: SessionOptions) {
    this.decode = options.decoder ?? jsonDecoder(options.prefix);
    this.trackerOptions = options.tracker ?? {};
    const only = options.gateways ?? [];
    this.only = only.length > 0 ? new Set(only) : null;
    for (const gateway of only) this.gateway(gateway);
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
        const outcome = this.gateway(o.gateway).stream(o.epoch).record(o.seq, {
          historical: o.historical,
          clock: o.clock,
          readings: o.readingTs.length,
          readingTs: o.readingTs,
          arrivedAt,
        });
        return outcome === 'new' ? 'data' : 'duplicate';
      }
    }
  }

  /** The audit's subscription stopped delivering at `at` (its link went down). */
  linkLost(at: number): void {
    if (this.outages.at(-1)?.to === null) return;
    this.disconnects++;
    this.outages.push({ from: at, to: null, sessionResumed: null });
    if (this.outages.length > MAX_OUTAGES) {
      const dropped = this.outages.shift()!;
      if (dropped.sessionResumed === false) this.notObservedMsDropped += dropped.to! - dropped.from;
    }
  }

  /**
   * Subscribed again at `at`. sessionResumed: the broker kept the session, so what was
   * published meanwhile is delivered now; otherwise it is gone, and the gaps it leaves are
   * reported as not observed.
   */
  linkRestored(at: number, sessionResumed: boolean): void {
    const outage = this.outages.at(-1);
    if (outage === undefined || outage.to !== null) return;
    outage.to = at;
    outage.sessionResumed = sessionResumed;
    if (sessionResumed) return;
    this.sessionsLost++;
    for (const g of this.gateways.values()) g.sessionLost();
  }

  private gateway(name: string): GatewayStreams {
    let g = this.gateways.get(name);
    if (g === undefined) {
      g = new GatewayStreams(this.trackerOptions);
      // With `since`, its first seqs may have gone by in a window the audit did not observe.
      if (this.sessionsLost > 0) g.sessionLost();
      this.gateways.set(name, g);
    }
    return g;
  }

  report(now: number): AuditReport {
    const down = this.outages.at(-1)?.to === null;
    const gateways: Record<string, GatewayReport> = {};
    for (const name of [...this.gateways.keys()].sort()) gateways[name] = this.gateways.get(name)!.report(now, down);
    let notObservedMs = this.notObservedMsDropped;
    for (const o of this.outages) if (o.sessionResumed !== true) notObservedMs += (o.to ?? now) - o.from;
    return {
      complete: Object.values(gateways).every((g) => g.streams.every((s) => s.openGaps === 0)),
      gateways,
      unparseable: this.unparseable,
      lastUnparseable: this.lastUnparseable,
      ignored: this.ignored,
      disconnects: this.disconnects,
      sessionsLost: this.sessionsLost,
      outages: this.outages.map((o) => ({ ...o })),
      notObservedMs,
    };
  }
}
