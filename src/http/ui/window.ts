/**
 * GET /api/status with window parameters: what one status page shows and nothing more.
 *
 *   ?filter=TEXT&offset=N&limit=N&since=VERSION
 *
 * The matched tags (tag-filter.ts) in config order are the page's list; `offset` and `limit`
 * cut its window. Without `since` (or with one from before the last reload or from another run
 * of the daemon) every row of the window is sent and `full` is true; with the `version` of an earlier answer for the same
 * filter, offset and limit, only the rows whose value, quality or error changed since. The
 * report members and the listed devices are small and always sent whole.
 */
import { encodeReadings } from '../../message/encode.js';
import type { DeviceTags, TagTable } from '../health.js';
import { reportMembers, type ApiInput } from './api.js';
import type { TagMatch } from './tag-filter.js';

export interface WindowQuery {
  filter: string;
  offset: number;
  limit: number;
  /** 0: send the whole window. */
  since: number;
}

const DEFAULT_LIMIT = 100;
/** A window bigger than this is cut to it: it bounds the work of one request. */
const MAX_LIMIT = 1000;
const PARAMS = ['filter', 'offset', 'limit', 'since'];

/** The window asked for, or undefined when the query names none of its parameters (the whole status). */
export function windowQuery(query: URLSearchParams): WindowQuery | undefined {
  if (!PARAMS.some((p) => query.has(p))) return undefined;
  // Tolerant on purpose: a mangled number falls back to its default rather than failing the page.
  const int = (name: string, fallback: number, max: number) => {
    const n = Number(query.get(name) ?? fallback);
    return Number.isSafeInteger(n) && n >= 0 ? Math.min(n, max) : fallback;
  };
  return {
    filter: query.get('filter') ?? '',
    offset: int('offset', 0, Number.MAX_SAFE_INTEGER),
    limit: Math.max(1, int('limit', DEFAULT_LIMIT, MAX_LIMIT)),
    since: int('since', 0, Number.MAX_SAFE_INTEGER),
  };
}

export function windowJson(input: ApiInput, table: TagTable, match: TagMatch, q: WindowQuery): string {
  const counts = new Map(table.devices.map((d, i) => [d.name, match.counts[i]]));
  let devices = '';
  for (const [name, health] of Object.entries(input.health.devices)) {
    if (!match.shows(name, counts.get(name) ?? 0)) continue;
    devices += (devices ? ',' : '') + JSON.stringify(name) + ':' + JSON.stringify(health);
  }
  // A since above every version given out comes from another process (the clock stepped back between restarts).
  const full = q.since === 0 || q.since < table.layoutVersion || q.since > table.version;
  const rows = windowRows(table, match, q.offset, q.limit, full ? 0 : q.since);
  return '{' + reportMembers(input) + ',"devices":{' + devices + '},"tags":{"version":' + table.version + ',"full":' + full +
    ',"total":' + match.total + ',"matched":' + match.matched + ',"offset":' + q.offset + ',"limit":' + q.limit + ',"rows":[' + rows + ']}}';
}

/** The rows of the window, in order, that changed after `since` (all of them at 0). */
function windowRows(table: TagTable, match: TagMatch, offset: number, limit: number, since: number): string {
  const out: string[] = [];
  let skip = offset;
  let left = limit;
  for (let d = 0; d < table.devices.length && left > 0; d++) {
    const count = match.counts[d];
    if (skip >= count) {
      skip -= count;
      continue;
    }
    const indices = match.indices[d];
    const end = Math.min(count, skip + left);
    for (let k = skip; k < end; k++) {
      const row = rowJson(table.devices[d], indices ? indices[k] : k, since);
      if (row) out.push(row);
    }
    left -= end - skip;
    skip = 0;
  }
  return out.join(',');
}

/**
 * `{"device":…,"tag":…,"value":…,"quality":…,"ts":…,"changed_ts":…}` as MQTT encodes the reading;
 * only device and tag before the first reading. Undefined when unchanged since `since`.
 */
function rowJson(device: DeviceTags, index: number, since: number): string | undefined {
  const tag = device.tags[index];
  const state = device.latestOf(tag);
  if (since > 0 && (!state || state.version <= since)) return undefined;
  const head = '{"device":' + JSON.stringify(device.name);
  if (!state) return head + ',"tag":' + JSON.stringify(tag) + '}';
  // `[{"tag":…}]` → `"tag":…`
  return head + ',' + encodeReadings([state.reading(tag)]).slice(2, -2) + ',"changed_ts":' + state.changedTs + '}';
}
