/**
 * The format-neutral body of a buffered message: readings encoded once, at commit time, as
 * JSON text. The buffer stores it opaquely; a wire format wraps it (forward/json-format.ts by
 * string concatenation, a binary format by parsing it back). It imports nothing but the driver
 * contract's Reading: the runtime (commit), the forwarder and the status page (http) all use it.
 *
 * Two shapes:
 * - publish per_device: encodeReadings() → `[{"tag":…,"value":…,"quality":…,"ts":…}, …]`
 * - publish per_tag: encodeTagReading() → `{"value":…,"quality":…,"ts":…}` (the tag is in the
 *   message's `tag` field and in the topic, so not repeated here).
 * Either shape adds `"error":"…"` when the reading has one.
 *
 * Values: booleans as true/false; finite numbers as JSON numbers; bigints as numbers within
 * ±(2^53−1), beyond that as a decimal string (a JSON number would be silently rounded by most
 * consumers); strings; arrays as JSON arrays (non-finite elements become null); null when the
 * quality is bad, whatever the driver left in value. A NaN or ±Infinity scalar has no JSON
 * form: it goes out as value null, quality bad, error "value is NaN"/"value is Infinity", so
 * a consumer never takes a null for a good reading and sees why.
 *
 * This runs for every reading (up to ~100k/s), so the text is built from pieces joined once, with
 * JSON.stringify only for strings, and the quoted tag names cached.
 *
 * Size (reference §4.10): no message exceeds mqtt.max_message_bytes, counted as the whole MQTT
 * PUBLISH packet (fixed header, topic, packet id, payload), as MQTT 5's Maximum Packet Size
 * counts it; mosquitto's max_packet_size counts 1–3 bytes fewer, and a broker that limits only
 * the payload (AWS IoT Core, Azure IoT Hub) is met with room to spare. A poll's readings are
 * split before they are committed, so every part gets its own seq: splitReadings() packs them
 * in order, greedily, which gives the fewest parts an ordered split can have. BodyBudget
 * (src/forward/message-size.ts) measures what the format wraps around a body at publish on the JSON format itself, with the
 * largest seq and the historical flag, so the bound holds whatever seq a part gets and whenever
 * it goes out. Sparkplug: a DDATA is smaller than the JSON message of the same readings (per
 * reading an alias and a binary value or raw string against the quoted tag name, "quality" and
 * the timestamp in text; per message a timestamp and two seqs against seq, epoch, gateway and
 * device), so the JSON bound, taken with the longer of the two topics, holds for it too.
 *
 * A reading that does not fit in a message even alone (a huge string) cannot be split: its
 * value is dropped here and the reading goes out as value null, quality bad, with the reason in
 * `error`, and the caller counts and logs it. Dropped rather than sent for the broker to refuse:
 * the consumer still sees the tag and why, the other readings of the poll keep their message,
 * and no connection is lost over it.
 */
import type { Quality, Reading } from '../driver/contract.js';

// `{"tag":"<name>","value":` per tag name; names come from the config, so the set is small.
const tagPrefixes = new Map<string, string>();
const TAG_CACHE_MAX = 100_000;

function tagPrefix(tag: string): string {
  let prefix = tagPrefixes.get(tag);
  if (prefix === undefined) {
    if (tagPrefixes.size >= TAG_CACHE_MAX) tagPrefixes.clear();
    prefix = '{"tag":' + JSON.stringify(tag) + ',"value":';
    tagPrefixes.set(tag, prefix);
  }
  return prefix;
}

const QUALITY: Readonly<Record<Quality, string>> = {
  good: ',"quality":"good","ts":',
  bad: ',"quality":"bad","ts":',
  uncertain: ',"quality":"uncertain","ts":',
};

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A value as JSON text, or undefined for a number that has none (NaN, ±Infinity). Null for
 * null; a bad reading's value is never asked for.
 */
export function valueJson(v: Reading['value']): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'number') return v - v === 0 ? '' + v : undefined;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return v <= MAX_SAFE && v >= -MAX_SAFE ? v.toString() : '"' + v.toString() + '"';
  return JSON.stringify(v);
}

/**
 * The text is assembled as pieces in one reused array and joined once: `a + b` chains leave a
 * cons string per concatenation (~30 B each, ~7 per reading) that V8 copies again when the body
 * is first measured or written, and that garbage was most of the daemon's scavenges.
 */
const pieces: string[] = [];
// The readings of a poll share their ts: its text is made once per poll, not once per reading.
let lastTs = NaN;
let lastTsText = '';

/** Pushes value, quality, ts and error as JSON members, without braces, from pieces[n]; returns the next n. */
function pushMembers(r: Reading, n: number): number {
  let error = r.error;
  let quality = r.quality;
  let value = quality === 'bad' ? 'null' : valueJson(r.value);
  if (value === undefined) {
    value = 'null';
    quality = 'bad';
    error = r.value !== r.value ? 'value is NaN' : 'value is ' + (r.value as number);
  }
  if (r.ts !== lastTs) {
    lastTs = r.ts;
    lastTsText = '' + r.ts;
  }
  pieces[n++] = value;
  pieces[n++] = QUALITY[quality];
  pieces[n++] = lastTsText;
  if (error !== undefined) {
    pieces[n++] = ',"error":';
    pieces[n++] = JSON.stringify(error);
  }
  return n;
}

function pushReading(r: Reading, n: number): number {
  pieces[n++] = tagPrefix(r.tag);
  n = pushMembers(r, n);
  pieces[n++] = '}';
  return n;
}

/** pieces[0..n) as one flat string. */
function joined(n: number): string {
  pieces.length = n;
  return pieces.join('');
}

/** One reading as an element of a readings array: `{"tag":…,"value":…,"quality":…,"ts":…}`. */
export function encodeReading(r: Reading): string {
  return joined(pushReading(r, 0));
}

/** The body of a per_device message: a JSON array of readings. */
export function encodeReadings(readings: readonly Reading[]): string {
  let n = 0;
  pieces[n++] = '[';
  for (let i = 0; i < readings.length; i++) {
    if (i > 0) pieces[n++] = ',';
    n = pushReading(readings[i], n);
  }
  pieces[n++] = ']';
  return joined(n);
}

/** The body of a per_tag message: one reading as a JSON object, without its tag name. */
export function encodeTagReading(r: Reading): string {
  pieces[0] = '{"value":';
  const n = pushMembers(r, 1);
  pieces[n] = '}';
  return joined(n + 1);
}

/** The least mqtt.max_message_bytes: room for an envelope and a few readings. */
export const MIN_MESSAGE_BYTES = 1024;

export interface Part {
  /** A per_device body: `[…]`. */
  readonly body: string;
  readonly readings: number;
  /** Epoch ms of the oldest reading inside. */
  readonly ts: number;
}

/** A reading that did not fit in a message even alone: its value was dropped. */
export interface Oversize {
  readonly tag: string;
  /** The reading's encoded size. */
  readonly bytes: number;
}

export interface Split {
  readonly parts: Part[];
  readonly oversize: Oversize[];
}

/** A UTF-16 unit is at most 3 UTF-8 bytes: most bodies are judged without measuring them. */
export function fits(text: string, maxBytes: number): boolean {
  return text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes;
}

/** The reading that goes out in place of one too large for any message. */
export function withoutValue(r: Reading, bytes: number): Reading {
  return { tag: r.tag, value: null, quality: 'bad', ts: r.ts, error: `value dropped: the reading is ${bytes} bytes, too large for mqtt.max_message_bytes` };
}

/** The readings of one poll (at least one) as per_device bodies of at most maxBodyBytes each, in order. */
export function splitReadings(readings: readonly Reading[], maxBodyBytes: number): Split {
  const whole = encodeReadings(readings);
  if (fits(whole, maxBodyBytes)) return { parts: [{ body: whole, readings: readings.length, ts: oldest(readings) }], oversize: [] };
  const parts: Part[] = [];
  const oversize: Oversize[] = [];
  let body = '';
  let bytes = 0;
  let count = 0;
  let ts = Infinity;
  for (const r of readings) {
    let item = encodeReading(r);
    let size = Buffer.byteLength(item);
    // 2: the brackets of a part holding only this reading.
    if (size + 2 > maxBodyBytes) {
      oversize.push({ tag: r.tag, bytes: size });
      item = encodeReading(withoutValue(r, size));
      size = Buffer.byteLength(item);
    }
    // 3: a comma and the brackets.
    if (count > 0 && bytes + size + 3 > maxBodyBytes) {
      parts.push({ body: '[' + body + ']', readings: count, ts });
      body = '';
      bytes = 0;
      count = 0;
      ts = Infinity;
    }
    if (count > 0) {
      body += ',';
      bytes++;
    }
    body += item;
    bytes += size;
    count++;
    if (r.ts < ts) ts = r.ts;
  }
  parts.push({ body: '[' + body + ']', readings: count, ts });
  return { parts, oversize };
}

/** encodeTagReading() for a per_tag body of at most maxBodyBytes. */
export function encodeTagReadingWithin(r: Reading, maxBodyBytes: number): { body: string; oversize?: Oversize } {
  const body = encodeTagReading(r);
  if (fits(body, maxBodyBytes)) return { body };
  const bytes = Buffer.byteLength(body);
  return { body: encodeTagReading(withoutValue(r, bytes)), oversize: { tag: r.tag, bytes } };
}

export function oldest(readings: readonly Reading[]): number {
  let ts = readings[0].ts;
  for (const r of readings) if (r.ts < ts) ts = r.ts;
  return ts;
}
