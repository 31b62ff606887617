/**
 * A wire format: what a buffered message looks like on MQTT, and what the forwarder says about
 * itself around a session. The forwarder owns delivery (windows, lanes, acks); a format owns
 * only topics and bytes. json-format.ts is one; Sparkplug B plugs in beside it.
 */
import type { StoredMessage } from '../buffer/types.js';

export interface OutgoingMessage {
  readonly topic: string;
  readonly payload: string | Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

export interface WireFormat {
  /** The last will for the next connection attempt (asked once per attempt). */
  will(): OutgoingMessage;
  /** Published once per session right after CONNACK, before any data. */
  online(): OutgoingMessage[];
  /** Published on an intentional stop, before the clean DISCONNECT (which discards the will). */
  offline(): OutgoingMessage[];
  topic(msg: StoredMessage): string;
  /** historical: the message is part of this session's backlog (SPEC §3). */
  payload(msg: StoredMessage, historical: boolean): string | Buffer;
}
