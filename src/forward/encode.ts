/**
 * The format-neutral body of a buffered message: readings encoded once, at commit time, as
 * JSON text. The buffer stores it opaquely; a wire format wraps it (json-format.ts by string
 * concatenation, a binary format by parsing it back).
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
 * This runs for every reading (up to ~100k/s), so the text is built by concatenation, with
 * JSON.stringify only for strings, and the quoted tag names cached.
 */
import type { Quality, Reading } from '../driver.js';

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

/** value, quality, ts and error as JSON members, without braces: `"value":…,"quality":…,"ts":…`. */
function members(r: Reading): string {
  const v = r.value;
  let error = r.error;
  let quality = r.quality;
  let value: string;
  if (quality === 'bad' || v === null) {
    value = 'null';
  } else if (typeof v === 'number') {
    if (v - v === 0) {
      value = '' + v;
    } else {
      value = 'null';
      quality = 'bad';
      error = v !== v ? 'value is NaN' : 'value is ' + v;
    }
  } else if (typeof v === 'boolean') {
    value = v ? 'true' : 'false';
  } else if (typeof v === 'string') {
    value = JSON.stringify(v);
  } else if (typeof v === 'bigint') {
    value = v <= MAX_SAFE && v >= -MAX_SAFE ? v.toString() : '"' + v.toString() + '"';
  } else {
    value = JSON.stringify(v);
  }
  let out = value + QUALITY[quality] + r.ts;
  if (error !== undefined) out += ',"error":' + JSON.stringify(error);
  return out;
}

/** The body of a per_device message: a JSON array of readings. */
export function encodeReadings(readings: readonly Reading[]): string {
  let out = '[';
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i];
    if (i > 0) out += ',';
    out += tagPrefix(r.tag) + members(r) + '}';
  }
  return out + ']';
}

/** The body of a per_tag message: one reading as a JSON object, without its tag name. */
export function encodeTagReading(r: Reading): string {
  return '{"value":' + members(r) + '}';
}
