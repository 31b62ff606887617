/**
 * One lane of messages out of the store: a seq range read in chunks, so a backlog of any size
 * costs one chunk of memory. The forwarder runs a backlog lane (seq ≤ the last committed seq
 * at connect time, flagged historical) and a live lane (everything after).
 */
import type { MessageStore, StoredMessage } from '../buffer/types.js';

/** Messages per store.read(): large enough to amortise the query, small enough to stay cheap. */
const CHUNK = 500;

export class Lane {
  /** Messages of this lane handed to MQTT and not yet acknowledged. */
  inflight = 0;
  private chunk: StoredMessage[] = [];
  private next = 0;
  private end = 0;
  /** Highest seq read from the store (or known to be gone). */
  private cursor: number;

  /** Covers seq in (after, upTo]; upTo is Infinity for the live lane. */
  constructor(
    private readonly store: MessageStore,
    readonly historical: boolean,
    after: number,
    private readonly upTo: number,
  ) {
    this.cursor = after;
  }

  /**
   * The next message to send, without taking it; undefined when nothing committed (up to
   * lastCommitted) is left in range.
   */
  peek(lastCommitted: number): StoredMessage | undefined {
    if (this.next < this.end) return this.chunk[this.next];
    const limit = Math.min(this.upTo, lastCommitted);
    if (this.cursor >= limit) return undefined;
    const chunk = this.store.read(this.cursor, CHUNK);
    let end = chunk.length;
    // Ascending seqs: cut at the first one beyond the range (it belongs to the live lane).
    while (end > 0 && chunk[end - 1].seq > this.upTo) end--;
    this.chunk = chunk;
    this.next = 0;
    this.end = end;
    // Nothing in range came back: what lay between was acknowledged or dropped meanwhile.
    this.cursor = end > 0 ? chunk[end - 1].seq : limit;
    if (end < chunk.length) this.cursor = this.upTo;
    return end > 0 ? chunk[0] : undefined;
  }

  /** Takes the message peek() returned. */
  take(): StoredMessage {
    return this.chunk[this.next++];
  }

  /** Everything in range has been handed out (the backlog lane's end). */
  get drained(): boolean {
    return this.next >= this.end && this.cursor >= this.upTo;
  }
}
