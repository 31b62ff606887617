/**
 * The JSON behind the status page. Read-only projections of one read of the runtime: the health
 * report (plus the drain estimate) and the last reading of every tag.
 *
 * Readings are encoded by the same code as the MQTT payloads (message/encode.ts), so the page
 * shows exactly what upstream receives: bigints beyond ±2^53−1 as decimal strings, NaN and
 * ±Infinity as quality bad with an error. The text is spliced rather than parsed back and
 * re-serialised, because a large device map is polled every second.
 */
import type { Reading } from '../../driver/contract.js';
import { encodeReadings } from '../../message/encode.js';
import type { Health } from '../health.js';
import type { DrainEstimate } from './drain.js';

export interface ApiInput {
  /** Epoch ms on the gateway's clock: a client computes ages against it, not its own clock. */
  now: number;
  health: Health;
  drain: DrainEstimate;
}

/** `"now":…,"status":…,"mqtt":…,"buffer":{…,"drain":…},"process":…` — the report without its devices. */
function reportMembers({ now, health, drain }: ApiInput): string {
  return JSON.stringify({ now, ...health, buffer: { ...health.buffer, drain }, devices: undefined }).slice(1, -1);
}

/** GET /api/health: the health report with the drain estimate, no tags. */
export function healthJson(input: ApiInput): string {
  return '{' + reportMembers(input) + ',"devices":' + JSON.stringify(input.health.devices) + '}';
}

/** GET /api/status: everything the page shows, from one read; each device carries its tags. */
export function statusJson(input: ApiInput, tags: Record<string, readonly Reading[]>): string {
  const devices = Object.entries(input.health.devices).map(
    ([name, device]) => JSON.stringify(name) + ':' + withMember(JSON.stringify(device), 'tags', encodeReadings(tags[name] ?? [])),
  );
  return '{' + reportMembers(input) + ',"devices":{' + devices.join(',') + '}}';
}

/** GET /api/tags[?device=NAME][&tag=NAME]: last readings per device; the filters match names exactly. */
export function tagsJson(now: number, tags: Record<string, readonly Reading[]>, filter: { device?: string; tag?: string }): string {
  const devices: string[] = [];
  for (const [name, readings] of Object.entries(tags)) {
    if (filter.device !== undefined && name !== filter.device) continue;
    const chosen = filter.tag === undefined ? readings : readings.filter((r) => r.tag === filter.tag);
    devices.push(JSON.stringify(name) + ':' + encodeReadings(chosen));
  }
  return '{"now":' + now + ',"tags":{' + devices.join(',') + '}}';
}

/** Adds a member, given as JSON text, to the JSON text of an object. */
function withMember(object: string, key: string, json: string): string {
  return (object === '{}' ? '{' : object.slice(0, -1) + ',') + JSON.stringify(key) + ':' + json + '}';
}
