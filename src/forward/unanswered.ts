/**
 * What the broker has not answered yet on one connection (forwarder.ts): the base of naming the
 * message a broker hung up on (suspects.ts) and of sending suspects one at a time.
 */
import type { StoredMessage } from '../buffer/types.js';

/** One publish on a connection: a data message, or anything else the link sent (status, births). */
export interface Sent {
  readonly msg: StoredMessage | null;
  readonly topic: string;
  readonly payload: string | Buffer;
  /** The MQTT packet id; null at QoS 0. */
  readonly id: number | null;
}

/** A PINGREQ in the order of publishes: its PINGRESP answers for everything sent before it. */
const PING: Sent = { msg: null, topic: '', payload: '', id: null };

/**
 * The publishes (and pings) of one connection the broker has not answered yet, in the order
 * sent. A broker reads a connection's packets in order and answers them in that order (PUBACK,
 * PUBREC, PINGRESP; MQTT 3.1.1 §4.6), so an answer to one means every packet before it was
 * read, QoS 0 publishes included. Answers, not acknowledgements: at QoS 2 the PUBCOMP comes a
 * round trip later, and a broker that hangs up meanwhile has still read the message.
 */
export class Unanswered {
  /** By the order sent. */
  private readonly sent = new Map<number, Sent>();
  /** Packet id → its key in `sent`. */
  private readonly byId = new Map<number, number>();
  /** Keys of the pings in `sent`, oldest first. */
  private readonly pings: number[] = [];
  private next = 0;

  add(sent: Sent): void {
    const key = this.next++;
    this.sent.set(key, sent);
    if (sent.id !== null) this.byId.set(sent.id, key);
  }

  ping(): void {
    this.pings.push(this.next);
    this.add(PING);
  }

  answered(id: number): void {
    const key = this.byId.get(id);
    if (key !== undefined) this.answeredUpTo(key);
  }

  pong(): void {
    const key = this.pings[0];
    if (key !== undefined) this.answeredUpTo(key);
  }

  get empty(): boolean {
    return this.sent.size === 0;
  }

  /** Only QoS 0 publishes are left: nothing will ever answer for them but a ping. */
  get waitsForPing(): boolean {
    return this.sent.size > 0 && this.byId.size === 0 && this.pings.length === 0;
  }

  /** Nothing but this publish (and pings, which no broker refuses) is left unanswered. */
  only(sent: Sent): boolean {
    for (const e of this.sent.values()) if (e !== sent && e !== PING) return false;
    return true;
  }

  /** The seqs of the data messages left, ascending. */
  seqs(): number[] {
    const seqs: number[] = [];
    for (const sent of this.sent.values()) if (sent.msg) seqs.push(sent.msg.seq);
    return seqs.sort((a, b) => a - b);
  }

  private answeredUpTo(upTo: number): void {
    for (const [key, sent] of this.sent) {
      if (key > upTo) break;
      this.sent.delete(key);
      if (sent.id !== null && this.byId.get(sent.id) === key) this.byId.delete(sent.id);
    }
    while (this.pings.length > 0 && this.pings[0] <= upTo) this.pings.shift();
  }
}
