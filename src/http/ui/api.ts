/**
 * The JSON behind the status page. Read-only projections of the runtime: the health report (plus
 * the drain estimate), read once per answer, and the last reading of every tag.
 *
 * Readings are encoded by the same code as the MQTT payloads (message/encode.ts), so the page
 * shows exactly what upstream receives: bigints beyond ±2^53−1 as decimal strings, NaN and
 * ±Infinity as quality bad with an error. The text is spliced rather than parsed back and
 * re-serialised. Answers that carry every tag are built in slices (loop-share.ts): at 50,000 tags
 * one is megabytes, and the loop must keep polling meanwhile.
 */
import type { Reading } from '../../driver/contract.js';
import { encodeReadings } from '../../message/encode.js';
import type { DeviceTags, Health, TagTable } from '../health.js';
import type { DrainEstimate } from './drain.js';
import type { LoopShare } from './loop-share.js';

export interface ApiInput {
  /** Epoch ms on the gateway's clock: a client computes ages against it, not its own clock. */
  now: number;
  health: Health;
  drain: DrainEstimate;
}

/** `"now":…,"status":…,"mqtt":…,"buffer":{…,"drain":…},"process":…` — the report without its devices. */
export function reportMembers({ now, health, drain }: ApiInput): string {
  return JSON.stringify({ now, ...health, buffer: { ...health.buffer, drain }, devices: undefined }).slice(1, -1);
}

/** GET /api/health: the health report with the drain estimate, no tags. */
export function healthJson(input: ApiInput): string {
  return '{' + reportMembers(input) + ',"devices":' + JSON.stringify(input.health.devices) + '}';
}

/**
 * GET /api/status without window parameters: everything; each device carries its tags, read as
 * the answer is built (each reading whole, not all from one instant). Yielded in parts to be written as they come: megabytes held until the end would outlive
 * the young generation and be collected by full GCs (and flattened in one piece on the way out).
 */
export async function* statusJson(input: ApiInput, table: TagTable, share: LoopShare): AsyncGenerator<string> {
  const byName = new Map(table.devices.map((d) => [d.name, d]));
  yield '{' + reportMembers(input) + ',"devices":{';
  let comma = '';
  for (const [name, health] of Object.entries(input.health.devices)) {
    const device = byName.get(name);
    // `"name":{…,"tags":` then the readings, then `}`.
    yield comma + JSON.stringify(name) + ':' + openMember(JSON.stringify(health), 'tags');
    if (device) yield* encodeTags(device, share);
    else yield '[]';
    yield '}';
    comma = ',';
  }
  yield '}}';
}

/** GET /api/tags[?device=NAME][&tag=NAME]: last readings per device; the filters match names exactly. In parts, as statusJson. */
export async function* tagsJson(now: number, table: TagTable, filter: { device?: string; tag?: string }, share: LoopShare): AsyncGenerator<string> {
  yield '{"now":' + now + ',"tags":{';
  let comma = '';
  for (const device of table.devices) {
    if (filter.device !== undefined && device.name !== filter.device) continue;
    yield comma + JSON.stringify(device.name) + ':';
    yield* encodeTags(device, share, filter.tag);
    comma = ',';
  }
  yield '}}';
}

/** Readings per encodeReadings call: big enough to amortise the call, small against a slice. */
const BATCH = 256;

/** `[…]` in parts: the device's tags that have a reading (only `only` when given), in config order. */
async function* encodeTags(device: DeviceTags, share: LoopShare, only?: string): AsyncGenerator<string> {
  let batch: Reading[] = [];
  let opened = false;
  for (const tag of device.tags) {
    const pause = share.step();
    if (pause) await pause;
    if (only !== undefined && tag !== only) continue;
    const state = device.latestOf(tag);
    if (state) batch.push(state.reading(tag));
    if (batch.length === BATCH) {
      yield (opened ? ',' : '[') + encodeReadings(batch).slice(1, -1);
      opened = true;
      batch = [];
    }
  }
  if (batch.length > 0) yield (opened ? ',' : '[') + encodeReadings(batch).slice(1, -1) + ']';
  else yield opened ? ']' : '[]';
}

/** The JSON text of an object opened for one more member: `{…,"key":`. */
function openMember(object: string, key: string): string {
  return (object === '{}' ? '{' : object.slice(0, -1) + ',') + JSON.stringify(key) + ':';
}
