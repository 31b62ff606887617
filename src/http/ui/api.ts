/**
 * The JSON behind the status page. Read-only projections of one read of the runtime: the health
 * report (plus the drain estimate) and the last reading of every tag.
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
 * GET /api/status without window parameters: everything, from one read; each device carries its
 * tags. In parts, to be written one after another: megabytes joined into one string would be
 * flattened in one piece on the way out (~10 ms at 50,000 tags).
 */
export async function statusJson(input: ApiInput, table: TagTable, share: LoopShare): Promise<string[]> {
  const byName = new Map(table.devices.map((d) => [d.name, d]));
  const parts = ['{' + reportMembers(input) + ',"devices":{'];
  let first = true;
  for (const [name, health] of Object.entries(input.health.devices)) {
    const device = byName.get(name);
    // `{…,"tags":` then the readings, then `}`.
    parts.push((first ? '' : ',') + JSON.stringify(name) + ':' + openMember(JSON.stringify(health), 'tags'));
    if (device) await encodeTags(device, share, parts);
    else parts.push('[]');
    parts.push('}');
    first = false;
  }
  parts.push('}}');
  return parts;
}

/** GET /api/tags[?device=NAME][&tag=NAME]: last readings per device; the filters match names exactly. In parts, as statusJson. */
export async function tagsJson(now: number, table: TagTable, filter: { device?: string; tag?: string }, share: LoopShare): Promise<string[]> {
  const parts = ['{"now":' + now + ',"tags":{'];
  let first = true;
  for (const device of table.devices) {
    if (filter.device !== undefined && device.name !== filter.device) continue;
    parts.push((first ? '' : ',') + JSON.stringify(device.name) + ':');
    await encodeTags(device, share, parts, filter.tag);
    first = false;
  }
  parts.push('}}');
  return parts;
}

/** Readings per encodeReadings call: big enough to amortise the call, small against a slice. */
const BATCH = 256;

/** Appends `[…]` to parts: the device's tags that have a reading (only `only` when given), in config order. */
async function encodeTags(device: DeviceTags, share: LoopShare, parts: string[], only?: string): Promise<void> {
  let batch: Reading[] = [];
  let empty = true;
  const flush = () => {
    if (batch.length === 0) return;
    parts.push((empty ? '[' : ',') + encodeReadings(batch).slice(1, -1));
    empty = false;
    batch = [];
  };
  for (const tag of device.tags) {
    const pause = share.step();
    if (pause) {
      flush();
      await pause;
    }
    if (only !== undefined && tag !== only) continue;
    const state = device.latestOf(tag);
    if (state) batch.push(state.reading(tag));
    if (batch.length === BATCH) flush();
  }
  flush();
  parts.push(empty ? '[]' : ']');
}

/** The JSON text of an object opened for one more member: `{…,"key":`. */
function openMember(object: string, key: string): string {
  return (object === '{}' ? '{' : object.slice(0, -1) + ',') + JSON.stringify(key) + ':';
}
