/**
 * The JSON wire format (reference §3). Payloads are composed around the stored body (see
 * encode.ts), never by parsing it back: a short envelope string, then the body copied once into
 * the payload's bytes. A string payload (envelope + body) would be a cons string that mqtt.js
 * flattens to measure and then encodes again to write: a copy of every body on the V8 heap.
 * The per-device / per-tag pieces are cached.
 *
 * per_device: `{prefix}/{gateway}/{device}`
 *   `{"seq":N,"epoch":"…"[,"historical":true][,"clock":"…"],"gateway":"…","device":"…","readings":[…]}`,
 *   or with a compact body (src/message/compact.ts) its members in place of readings:
 *   `…,"device":"…","groups":[…][,"readings":[…]]}`
 * per_tag: `{prefix}/{gateway}/{device}/{tag}`
 *   `{"seq":N,"epoch":"…"[,"historical":true][,"clock":"…"],"value":…,"quality":…,"ts":…[,"error":"…"]}`
 * `clock` (reference §4.12): unsynced, corrected or stepped; left out when the clock was trusted.
 * status: `{prefix}/{gateway}/status`, retained: `{"online":true,"epoch":"…","ts":…,"version":"…"}`
 *   after each connect; `{"online":false,"epoch":"…","ts":…}` on an intentional stop;
 *   `{"online":false,"epoch":"…"}` as the will.
 *
 * `epoch` names the buffer's seq stream (reference §4.9): seq is unique only within it, so a consumer
 * keys on (epoch, seq) and treats a new epoch as a new stream. Without an epoch (a format built
 * without one) the member is left out, as gateways before epochs did.
 */
import type { FloorgateConfig } from '../config/types.js';
import type { StoredMessage } from '../buffer/types.js';
import type { Link, OutgoingMessage, WireFormat } from './format.js';
import { CLOCK_FLAG_NAMES } from '../clock/flag.js';

/** `,"clock":"…"` by flag (src/clock/flag.ts). */
const CLOCK_MEMBERS = CLOCK_FLAG_NAMES.map((name) => ',"clock":' + JSON.stringify(name));

export class JsonFormat implements WireFormat {
  private readonly base: string;
  private readonly gatewayMember: string;
  /** `,"epoch":"…"` */
  private readonly epochMember: string;
  /** device → `,"gateway":"…","device":"…"` */
  private readonly deviceMembers = new Map<string, string>();
  private readonly deviceTopics = new Map<string, string>();
  private readonly tagTopics = new Map<string, Map<string, string>>();

  /** epoch: the buffer's stream id (MessageStore.epoch). */
  constructor(config: FloorgateConfig, private readonly version: string, epoch: string) {
    this.base = `${config.mqtt.topic_prefix}/${config.gateway.id}`;
    this.gatewayMember = ',"gateway":' + JSON.stringify(config.gateway.id);
    this.epochMember = ',"epoch":' + JSON.stringify(epoch);
  }

  get statusTopic(): string {
    return `${this.base}/status`;
  }

  will(): OutgoingMessage {
    return this.status(`{"online":false${this.epochMember}}`);
  }

  online(): OutgoingMessage[] {
    return [this.status(`{"online":true${this.epochMember},"ts":${Date.now()},"version":${JSON.stringify(this.version)}}`)];
  }

  /** The online status first, then data at once. */
  open(link: Link): void {
    for (const m of this.online()) link.publish(m);
    link.release();
  }

  offline(): OutgoingMessage[] {
    return [this.status(`{"online":false${this.epochMember},"ts":${Date.now()}}`)];
  }

  topic(msg: StoredMessage): string {
    // The message's own shape decides, not the current config: a backlog written under
    // publish: per_device still goes out as batches after a switch to per_tag.
    if (msg.tag === null) {
      let topic = this.deviceTopics.get(msg.device);
      if (topic === undefined) {
        topic = `${this.base}/${msg.device}`;
        this.deviceTopics.set(msg.device, topic);
      }
      return topic;
    }
    let tags = this.tagTopics.get(msg.device);
    if (tags === undefined) {
      tags = new Map();
      this.tagTopics.set(msg.device, tags);
    }
    let topic = tags.get(msg.tag);
    if (topic === undefined) {
      topic = `${this.base}/${msg.device}/${msg.tag}`;
      tags.set(msg.tag, topic);
    }
    return topic;
  }

  payload(msg: StoredMessage, historical: boolean): Buffer {
    const head = '{"seq":' + msg.seq + this.epochMember + (historical ? ',"historical":true' : '') + (msg.clock ? CLOCK_MEMBERS[msg.clock] : '');
    if (msg.tag !== null) return joinObject(head, msg.body);
    let members = this.deviceMembers.get(msg.device);
    if (members === undefined) {
      members = this.gatewayMember + ',"device":' + JSON.stringify(msg.device);
      this.deviceMembers.set(msg.device, members);
    }
    // A compact body is an object whose members join the envelope's; a readings body an array.
    if (msg.body.charCodeAt(0) === 0x7b) return joinObject(head + members, msg.body);
    const prefix = head + members + ',"readings":';
    const at = Buffer.byteLength(prefix);
    const bytes = Buffer.allocUnsafe(at + Buffer.byteLength(msg.body) + 1);
    bytes.write(prefix, 0);
    bytes[at + bytes.write(msg.body, at)] = 0x7d; // }
    return bytes;
  }

  private status(payload: string): OutgoingMessage {
    return { topic: this.statusTopic, payload, qos: 1, retain: true };
  }
}

/** `{envelope,members of body}` as UTF-8: the body's `{` lands where the comma goes, and is overwritten by it. */
function joinObject(envelope: string, body: string): Buffer {
  const at = Buffer.byteLength(envelope);
  const bytes = Buffer.allocUnsafe(at + Buffer.byteLength(body));
  bytes.write(envelope, 0);
  bytes.write(body, at);
  bytes[at] = 0x2c; // ,
  return bytes;
}
