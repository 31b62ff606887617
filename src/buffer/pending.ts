/**
 * Appends waiting in memory for their commit (sqlite-buffer.ts), taken from the head by committed
 * transactions. Bounded: past syncCommitBytes the buffer commits at once instead of waiting for
 * commit_interval; while commits fail memory is the only place left, and past `limit` when_full
 * decides who goes.
 */
import type { NewMessage } from './types.js';

export class PendingQueue {
  /** Appended, not committed: messages[head..]. */
  messages: NewMessage[] = [];
  head = 0;
  bytes = 0;
  readonly limit: number;
  readonly syncCommitBytes: number;

  constructor(maxBytes: number) {
    this.limit = Math.min(maxBytes, 32 * 2 ** 20);
    this.syncCommitBytes = Math.min(4 * 2 ** 20, this.limit / 2);
  }

  get length(): number {
    return this.messages.length - this.head;
  }

  push(message: NewMessage, size: number): void {
    this.messages.push(message);
    this.bytes += size;
  }

  /** drop_oldest in memory: takes from the head until `size` more bytes fit; returns what it took. */
  shedOldest(size: number): { readings: number; messages: number } {
    let readings = 0;
    let messages = 0;
    while (this.head < this.messages.length && this.bytes + size > this.limit) {
      const old = this.messages[this.head++];
      this.bytes -= memoryBytes(old);
      readings += old.readings;
      messages++;
    }
    return { readings, messages };
  }

  /** Replaces every queued message `change` returns a new one for; returns how many. */
  restamp(change: (m: NewMessage) => NewMessage | null): number {
    let changed = 0;
    for (let i = this.head; i < this.messages.length; i++) {
      const next = change(this.messages[i]);
      if (next === null) continue;
      this.bytes += memoryBytes(next) - memoryBytes(this.messages[i]);
      this.messages[i] = next;
      changed++;
    }
    return changed;
  }

  /** A committed transaction took messages[head..to), `bytes` of them. */
  taken(to: number, bytes: number): void {
    this.head = to;
    this.bytes -= bytes;
  }

  compact(): void {
    if (this.head === this.messages.length) {
      this.messages = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.messages.length) {
      this.messages = this.messages.slice(this.head);
      this.head = 0;
    }
  }
}

/** What a queued message costs in memory, roughly: for the bound on the queue. */
export function memoryBytes(m: NewMessage): number {
  return 2 * (m.body.length + m.device.length + (m.tag === null ? 0 : m.tag.length)) + 64;
}
