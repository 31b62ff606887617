/**
 * The buffer's contract. The buffer knows no protocol and no MQTT: it stores opaque message
 * bodies with their seq and hands them out in seq order; the forwarder says what was acknowledged.
 */

/** A message as the runtime hands it over, before it has a seq. */
export interface NewMessage {
  readonly device: string;
  /** Set for publish: per_tag; null for a per-device batch. */
  readonly tag: string | null;
  /** Format-neutral encoded readings (see src/forward/encode.ts); opaque to the buffer. */
  readonly body: string;
  /** Readings inside, for drop counting. */
  readonly readings: number;
  /** Epoch ms of the oldest reading inside (max_age is judged on it). */
  readonly ts: number;
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
