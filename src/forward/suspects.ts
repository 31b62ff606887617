/**
 * No poison message (reference §4.10; the top of forwarder.ts says how): the suspects a broker's
 * hang-up leaves, the strikes against a suspect sent alone, and setting a message aside.
 */
import type { Logger } from 'pino';
import type { MessageStore } from '../buffer/types.js';
import type { Metrics } from '../metrics.js';
import { publishBytes } from './message-size.js';
import type { Sent, Unanswered } from './unanswered.js';
import { why } from './why.js';

/**
 * Hang-ups in a row on the same suspect out alone before it is set aside: one can be a
 * coincidence (a broker restart, a reset at that moment), three are the broker's answer to it.
 */
const SET_ASIDE_AFTER = 3;

export interface SuspectsOptions {
  readonly store: MessageStore;
  readonly log: Logger;
  readonly metrics?: Metrics;
  /** mqtt.qos, named when the settings may be what the broker refuses. */
  readonly qos: number;
}

export class Suspects {
  /**
   * Data messages the broker left unanswered when it last hung up, ascending: the next
   * connections send them one at a time, before anything else.
   */
  private suspects: number[] = [];
  /** The suspect the broker last hung up on while it was out alone, and how many times in a row. */
  private strikes: { seq: number; closes: number } | null = null;
  /**
   * The broker acknowledged a data message since this forwarder started: it takes data as
   * floorgate sends it, so a message it keeps refusing is refused for itself. Until then the
   * settings may be what it refuses (QoS 2 on nats-server before 2.10, an ACL on the topics),
   * and nothing is set aside.
   */
  tookData = false;

  constructor(private readonly o: SuspectsOptions) {}

  get any(): boolean {
    return this.suspects.length > 0;
  }

  /** The next suspect to send alone; undefined when none is left. */
  next(): number | undefined {
    return this.suspects[0];
  }

  /** The next suspect needs no sending (gone meanwhile, or nothing to publish). */
  skip(): void {
    this.suspects.shift();
  }

  /** The broker acknowledged the suspect sent alone: it is no suspect any more. */
  acknowledged(seq: number): void {
    this.tookData = true;
    if (this.suspects[0] === seq) this.suspects.shift();
    if (this.strikes?.seq === seq) this.strikes = null;
  }

  /**
   * The broker hung up. On a careful connection with a suspect out alone, that suspect is
   * named, and set aside the SET_ASIDE_AFTER-th time in a row; otherwise the data messages it
   * left unanswered become the suspects. Returns what to add to the reason logged.
   */
  blame(unanswered: Unanswered, careful: boolean, alone: Sent | null): string {
    if (!careful) {
      this.suspects = unanswered.seqs();
      const n = this.suspects.length;
      return n === 0 ? '' : ` (${n} data messages unanswered, seq ${this.suspects[0]} to ${this.suspects[n - 1]}: sending them one at a time next)`;
    }
    // Something else went out beside it (a birth, a command's result): that may be what it refused.
    if (!alone?.msg || !unanswered.only(alone)) return '';
    const { seq, readings, device } = alone.msg;
    const closes = this.strikes?.seq === seq ? this.strikes.closes + 1 : 1;
    const bytes = publishBytes(alone.topic, alone.payload);
    const what = ` (right after message seq ${seq}, ${bytes} bytes, sent alone`;
    if (closes < SET_ASIDE_AFTER) {
      this.strikes = { seq, closes };
      return `${what}: ${closes} of ${SET_ASIDE_AFTER} closes before it is set aside)`;
    }
    this.strikes = null;
    if (!this.tookData) return what + this.suspectTheSettings(seq, alone.topic);
    try {
      this.o.store.ack(seq);
    } catch (err) {
      this.o.log.error({ err }, `buffer error: ${why(err)}`);
      return `${what})`;
    }
    this.suspects = this.suspects.filter((x) => x !== seq);
    this.o.metrics?.dropped.inc({ reason: 'rejected_by_broker' }, readings);
    this.o.log.error({ seq, bytes, device, readings, topic: alone.topic },
      `message seq ${seq} set aside (${bytes} bytes, ${readings} readings of ${device}): the broker closed the connection `
      + `${closes} times right after this message; it is too large or not allowed (compare mqtt.max_message_bytes with the broker's `
      + `limit, check its ACL). Counted in floorgate_dropped_total{reason="rejected_by_broker"}; consumers see a gap at seq ${seq}`);
    return `${what}: set aside)`;
  }

  /**
   * Hung up on right after `seq` SET_ASIDE_AFTER times, and on every data message before it:
   * the message is kept, and the next one goes out alone first as a control. Once the broker
   * takes any, a message it still refuses is its own problem and is set aside.
   */
  private suspectTheSettings(seq: number, topic: string): string {
    const [control] = this.o.store.read(seq, 1);
    if (control) this.suspects = [control.seq, ...this.suspects.filter((x) => x !== control.seq)];
    this.o.log.error({ seq, qos: this.o.qos, topic },
      `the broker closed the connection ${SET_ASIDE_AFTER} times right after message seq ${seq} and has acknowledged no data message yet: `
      + `kept, not set aside. Check mqtt.qos (nats-server before 2.10 has no QoS 2), the broker's ACL for ${topic} and its packet limit`);
    return `: kept, the broker has acknowledged no data message yet)`;
  }
}
