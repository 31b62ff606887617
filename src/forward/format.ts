/**
 * A wire format: what a buffered message looks like on MQTT, and what the format says and hears
 * on each connection. The forwarder owns delivery (windows, lanes, acks); a format owns topics,
 * bytes and its session protocol. json-format.ts is one, sparkplug-format.ts another; write
 * commands (src/commands/) live on the connection beside them as a SessionPart, and reach a
 * format that hears commands itself (Sparkplug DCMD) as a CommandSink. The arrow points one
 * way: commands know these interfaces, forward knows nothing of commands.
 */
import type { StoredMessage } from '../buffer/types.js';
import type { Value } from '../driver/contract.js';

/** The largest message accepted on any subscribed topic (commands, Sparkplug STATE). */
export const MAX_COMMAND_BYTES = 4096;

/** A write command's fate, as the format that heard it needs to know it. */
export type CommandOutcome = { readonly ok: true; readonly value: Value } | { readonly ok: false; readonly error: string };

/** Where a format hands the write commands it hears (src/commands/commands.ts). */
export interface CommandSink {
  /** Takes one command from the rate limit; false when over it (already counted and logged). */
  admit(): boolean;
  /** Checks and performs one admitted write; never rejects. */
  write(device: string, tag: string, value: unknown, source: string): Promise<CommandOutcome>;
  /** A command refused before it could become a write: logged and counted. */
  refuse(fields: Readonly<Record<string, unknown>>, error: string): void;
}

export interface OutgoingMessage {
  readonly topic: string;
  readonly payload: string | Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

/** What the current connection lends the parts that live on it. */
export interface Link {
  /** Publishes on this connection, in order with everything else published on it. */
  publish(m: OutgoingMessage): void;
  /** Subscribes at QoS 1; what arrives goes to every part's message(). */
  subscribe(filters: readonly string[]): void;
  /**
   * Buffered data may flow from now on; everything committed until this moment is this
   * connection's backlog (historical). Only the format calls it, at most once per connection.
   */
  release(): void;
  /** Ends this connection cleanly (DISCONNECT after what was published); the forwarder reconnects after its backoff. */
  close(reason: string): void;
}

/** Something that lives on each MQTT connection beside the data stream. */
export interface SessionPart {
  /** The broker accepted a connection (CONNACK). */
  open(link: Link): void;
  /** A message on one of this connection's subscriptions; retained as flagged by the broker. */
  message?(topic: string, payload: Buffer, retained: boolean): void;
  /** The connection is gone (lost, closed or stopped); the link is dead from now on. */
  closed?(): void;
}

export interface WireFormat extends SessionPart {
  /** The last will for the next connection attempt (asked once per attempt). */
  will(): OutgoingMessage;
  /** Published on an intentional stop, before the clean DISCONNECT (which discards the will). */
  offline(): OutgoingMessage[];
  topic(msg: StoredMessage): string;
  /**
   * historical: the message is part of this connection's backlog (reference §3). Called right before
   * the message is published, once per publish, in publish order. null: the message can no
   * longer be sent in this format (the format logged why); it is acknowledged unsent.
   */
  payload(msg: StoredMessage, historical: boolean): string | Buffer | null;
  /** The configured devices changed (a reload that left mqtt alone): a format that announces devices does so again. */
  devicesChanged?(): void;
}
