/**
 * How large a message may be: the PUBLISH packet's size and, per device or tag, the bytes left
 * for a body once the wire format's topic and envelope are counted (reference §4.10; the
 * splitting itself is src/message/encode.ts).
 */
import type { StoredMessage } from '../buffer/types.js';
import type { FloorgateConfig } from '../config/types.js';
import { VERSION } from '../package-info.js';
import type { WireFormat } from './format.js';
import { JsonFormat } from './json-format.js';
import { LONGEST_CLOCK_FLAG } from '../clock/flag.js';

/** PUBLISH bytes beside topic and payload: fixed header 1, remaining length ≤ 4, topic length 2, packet id 2. */
const PUBLISH_OVERHEAD = 9;
/** The largest MQTT packet: a remaining length of 268,435,455 behind a 5-byte fixed header. */
export const MAX_MESSAGE_BYTES = 268_435_460;

/** The size of the PUBLISH packet (QoS 1 or 2, MQTT 3.1.1) carrying this payload on this topic. */
export function publishBytes(topic: string, payload: string | Buffer): number {
  const rest = 2 + Buffer.byteLength(topic) + 2 + Buffer.byteLength(payload);
  return 1 + (rest < 128 ? 1 : rest < 16_384 ? 2 : rest < 2_097_152 ? 3 : 4) + rest;
}

/**
 * How many bytes the body of a message may take so that the message stays within
 * max_message_bytes, per device (per_device bodies) or per device and tag (per_tag bodies).
 */
export class BodyBudget {
  private readonly budgets = new Map<string, number>();

  /**
   * json: the JSON format, whose envelope is measured; wire: the format that publishes, for its
   * topic (the same object for JSON).
   */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly json: Pick<WireFormat, 'topic' | 'payload'>,
    private readonly wire: Pick<WireFormat, 'topic'>,
  ) {}

  /** The budget of the format that publishes (`wire`), measured on the JSON envelope (see src/message/encode.ts). */
  static of(config: FloorgateConfig, epoch: string, wire: Pick<WireFormat, 'topic'>): BodyBudget {
    return new BodyBudget(config.mqtt.max_message_bytes, new JsonFormat(config, VERSION, epoch), wire);
  }

  /** tag null: a per_device body. */
  of(device: string, tag: string | null): number {
    // Names hold no '/', so the keys of a device and of its tags cannot meet.
    const key = tag === null ? device : device + '/' + tag;
    let budget = this.budgets.get(key);
    if (budget === undefined) {
      // The smallest body of its shape: what the payload holds beyond it is the envelope.
      const body = tag === null ? '[]' : '{}';
      const probe: StoredMessage = { seq: Number.MAX_SAFE_INTEGER, device, tag, body, readings: 0, ts: 0, clock: LONGEST_CLOCK_FLAG };
      const envelope = Buffer.byteLength(this.json.payload(probe, true)!) - body.length;
      const topic = Math.max(Buffer.byteLength(this.json.topic(probe)), Buffer.byteLength(this.wire.topic(probe)));
      budget = this.maxMessageBytes - PUBLISH_OVERHEAD - topic - envelope;
      this.budgets.set(key, budget);
    }
    return budget;
  }
}

/** One message's share of a poll. */
