/**
 * The compact body of a per_device message (`mqtt.json_layout: compact`, reference §3): the
 * readings of a poll grouped by timestamp, each group one `ts` and a map of tag → value, and
 * whatever a map cannot say spelled out as in the readings layout:
 *
 *   `{"groups":[{"ts":T,"values":{"tag":value,…}},…],"readings":[{"tag":…,"value":…,"quality":…,"ts":…},…]}`
 *
 * A reading goes into the group of its ts when its quality is good, it has no error, its value
 * has a JSON form (not NaN or ±Infinity) and its tag is in no group of the body yet (a listen-only
 * line or a subscription can give a tag twice in one batch, and the groups name a tag once). Every
 * other reading goes under `readings`, exactly as encodeReading() writes it. Either member is
 * left out when empty. Groups come in the order of their first reading: a Modbus poll of many
 * requests gives one group per request, stamped when its reply came.
 *
 * The body is what the buffer stores, and json-format.ts puts it into the envelope by
 * concatenation, as for the readings layout: encoded once, and fewer bytes on disk too. A
 * message keeps the layout it was committed in (a backlog written compact goes out compact
 * after a switch back): the first character tells them apart, `{` here, `[` for readings.
 *
 * Per reading this costs `"tag":value,` instead of `{"tag":"tag","value":value,"quality":"good","ts":…},`:
 * 15 bytes instead of 67 for a five-digit uint16 named t00123.
 */
import type { Reading } from '../driver/contract.js';
import { encodeReading, fits, oldest, valueJson, withoutValue, type Oversize, type Split } from './encode.js';

interface Group {
  readonly ts: number;
  /** `"tag":value` entries, comma-separated. */
  entries: string;
}

/** `"name":` per tag name, and the last body whose groups took it. */
interface TagKey {
  readonly text: string;
  body: number;
}

const tagKeys = new Map<string, TagKey>();
const TAG_CACHE_MAX = 100_000;
/** Body ids, unique over the process's life, so a tag's mark never needs clearing. */
let bodyIds = 0;

function tagKey(tag: string): TagKey {
  let key = tagKeys.get(tag);
  if (key === undefined) {
    if (tagKeys.size >= TAG_CACHE_MAX) tagKeys.clear();
    key = { text: JSON.stringify(tag) + ':', body: -1 };
    tagKeys.set(tag, key);
  }
  return key;
}

/** Where a reading goes in a body: a group (null: a new one for its ts) with `"tag":value`, or readings. */
type Place =
  | { readonly kind: 'group'; readonly ts: number; readonly group: Group | null; readonly key: TagKey; readonly text: string }
  | { readonly kind: 'reading'; readonly text: string };

// `{"groups":[` … `]}` around the groups; `"readings":[` … `]` around the readings; `{"ts":` … `,"values":{` … `}}` around a group.
const GROUPS_FRAME = 11;
const READINGS_FRAME = 13;
const GROUP_FRAME = 19;

/** One body being filled, reading by reading. */
class CompactBuilder {
  private readonly id = bodyIds++;
  private groups: Group[] = [];
  private byTs = new Map<number, Group>();
  private last: Group | undefined;
  private readings = '';
  count = 0;
  oldest = Infinity;
  /** UTF-8 bytes of body(), when every add() was given what grows() said. */
  bytes = 2;

  place(r: Reading): Place {
    const value = r.quality === 'good' && r.error === undefined ? valueJson(r.value) : undefined;
    if (value !== undefined) {
      const key = tagKey(r.tag);
      if (key.body !== this.id) {
        const group = this.last !== undefined && this.last.ts === r.ts ? this.last : this.byTs.get(r.ts) ?? null;
        return { kind: 'group', ts: r.ts, group, key, text: key.text + value };
      }
    }
    return { kind: 'reading', text: encodeReading(r) };
  }

  /** How many bytes adding p makes the body grow by, size being p.text's UTF-8 length. */
  grows(p: Place, size: number): number {
    if (p.kind === 'reading') {
      if (this.readings !== '') return size + 1;
      return size + READINGS_FRAME + (this.groups.length > 0 ? 1 : 0);
    }
    if (p.group !== null) return size + 1;
    const group = size + GROUP_FRAME + String(p.ts).length;
    return group + (this.groups.length > 0 ? 1 : GROUPS_FRAME + (this.readings !== '' ? 1 : 0));
  }

  add(r: Reading, p: Place, grows = 0): void {
    this.bytes += grows;
    this.count++;
    if (r.ts < this.oldest) this.oldest = r.ts;
    if (p.kind === 'reading') {
      this.readings += this.readings === '' ? p.text : ',' + p.text;
      return;
    }
    let group = p.group;
    if (group === null) {
      group = { ts: r.ts, entries: p.text };
      this.groups.push(group);
      this.byTs.set(r.ts, group);
    } else {
      group.entries += ',' + p.text;
    }
    this.last = group;
    p.key.body = this.id;
  }

  body(): string {
    let out = '{';
    if (this.groups.length > 0) {
      out += '"groups":[';
      for (let i = 0; i < this.groups.length; i++) {
        const g = this.groups[i];
        out += (i > 0 ? ',{"ts":' : '{"ts":') + g.ts + ',"values":{' + g.entries + '}}';
      }
      out += ']';
      if (this.readings !== '') out += ',';
    }
    if (this.readings !== '') out += '"readings":[' + this.readings + ']';
    return out + '}';
  }
}

/** The compact body of a per_device message. */
export function encodeCompact(readings: readonly Reading[]): string {
  const b = new CompactBuilder();
  for (const r of readings) b.add(r, b.place(r));
  return b.body();
}

/** splitReadings() for the compact layout: bodies of at most maxBodyBytes, in order, greedily. */
export function splitCompact(readings: readonly Reading[], maxBodyBytes: number): Split {
  const whole = encodeCompact(readings);
  if (fits(whole, maxBodyBytes)) return { parts: [{ body: whole, readings: readings.length, ts: oldest(readings) }], oversize: [] };
  const parts: Split['parts'] = [];
  const oversize: Oversize[] = [];
  let b = new CompactBuilder();
  for (const r of readings) {
    let p = b.place(r);
    let grows = b.grows(p, Buffer.byteLength(p.text));
    if (b.count > 0 && b.bytes + grows > maxBodyBytes) {
      parts.push({ body: b.body(), readings: b.count, ts: b.oldest });
      b = new CompactBuilder();
      // In a new body a repeated tag may join a group again.
      p = b.place(r);
      grows = b.grows(p, Buffer.byteLength(p.text));
    }
    let kept = r;
    if (b.bytes + grows > maxBodyBytes) {
      oversize.push({ tag: r.tag, bytes: Buffer.byteLength(p.text) });
      kept = withoutValue(r, Buffer.byteLength(p.text));
      p = b.place(kept);
      grows = b.grows(p, Buffer.byteLength(p.text));
    }
    b.add(kept, p, grows);
  }
  parts.push({ body: b.body(), readings: b.count, ts: b.oldest });
  return { parts, oversize };
}

/** A compact body as JSON.parse gives it back; R is what a spelled-out reading parses to. */
export interface ParsedCompact<R extends { value: unknown }> {
  readonly groups?: readonly { readonly ts: number; readonly values: Readonly<Record<string, R['value']>> }[];
  readonly readings?: readonly R[];
}

/** The readings of a parsed compact body, as the readings layout has them: the groups' first, then the rest. */
export function compactReadings<R extends { tag: string; value: unknown; quality: string; ts: number }>(body: ParsedCompact<R>): R[] {
  const out: R[] = [];
  for (const g of body.groups ?? []) {
    for (const tag in g.values) out.push({ tag, value: g.values[tag], quality: 'good', ts: g.ts } as R);
  }
  if (body.readings) out.push(...body.readings);
  return out;
}
