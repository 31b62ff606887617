/**
 * The buffer's contract. The buffer knows no protocol and no MQTT: it stores opaque message
 * bodies with their seq and hands them out in seq order; the forwarder says what was acknowledged.
 */

/** A message as the runtime hands it over, before it has a seq. */
export interface NewMessage {
  readonly device: string;
  /** Set for publish: per_tag; null for a per-device batch. */
  readonly tag: string | null;
  /** Format-neutral encoded readings (see src/message/encode.ts); opaque to the buffer. */
  readonly body: string;
  /** Readings inside, for drop counting. */
  readonly readings: number;
  /** Epoch ms of the oldest reading inside (max_age is judged on it). */
  readonly ts: number;
  /** How the clock stood when the readings were stamped (src/clock/flag.ts); default trusted. */
  readonly clock?: number;
  /** Wall − monotonic ms when stamped, which a correction shifts ts by the change of (restamp). */
  readonly wallOffset?: number;
}

/** A committed message. */
export interface StoredMessage extends NewMessage {
  /** One counter per gateway, +1 per message in commit order, never reused. */
  readonly seq: number;
}

export type DropReason = 'max_age' | 'full';

export interface BufferStats {
  /** Committed, not yet acknowledged. */
  readonly messages: number;
  readonly readings: number;
  /** Bytes on disk: database file plus WAL. */
  readonly bytes: number;
  readonly oldest_ts: number | null;
  readonly newest_ts: number | null;
  /** Highest seq ever assigned (0 before the first). */
  readonly last_seq: number;
  /** Readings dropped since the buffer file was created, by reason. */
  readonly dropped: Readonly<Record<DropReason, number>>;
}

/**
 * The durable FIFO. Appends are held in memory at most commit_interval, then committed in one
 * transaction that assigns their seqs; only committed messages are ever handed out.
 */
export interface MessageStore {
  /** Queue a message; it is committed (and gets its seq) within commit_interval, or by flush(). */
  append(message: NewMessage): void;
  /** Commit everything queued now (also deletes acknowledged messages). */
  flush(): void;
  /** Committed, unacknowledged messages with seq > after, ascending, at most limit. */
  read(after: number, limit: number): StoredMessage[];
  /**
   * The broker acknowledged this seq. It is never handed out again and is deleted in the next
   * commit; a crash before that means a redelivery, never a loss.
   */
  ack(seq: number): void;
  /** Called after every commit that added messages, with the highest committed seq. */
  onCommit(listener: (lastSeq: number) => void): () => void;
  stats(): BufferStats;
  /**
   * False while commits fail (disk full, I/O error): appends are then held in memory, bounded,
   * and commits are retried. /healthz answers 503 meanwhile.
   */
  readonly writable: boolean;
  /**
   * The stream id of this data dir's seq counter (reference §4.9): it changes only when continuity
   * of seq could not be kept (the data dir was wiped), so a consumer treats (epoch, seq) as the
   * identity of a message and a new epoch as a new stream.
   */
  readonly epoch: string;
  /** Wall time of the last commit in ms (null before the first), for the health report. */
  readonly lastCommitMs: number | null;
  /**
   * The clock is trusted again, at this wall − monotonic offset: every message of this boot not
   * yet acknowledged whose flag is `from` (queued or committed) gets its ts (row and body) shifted
   * by (offset − its wallOffset) and its flag set to `to`. Resolves with how many messages changed,
   * once done: committed rows are rewritten a bounded chunk per turn of the event loop.
   */
  restamp(offset: number, from: number, to: number): Promise<number>;
  /**
   * The ts of the newest message stamped by the gateway's clock while it was trusted (or corrected
   * since), null when none: a wall clock earlier than this is wrong.
   */
  newestTrustedTs(): number | null;
  /** Commit what is pending, checkpoint, close. */
  close(): void;
}
