/**
 * Decodes floorgate's JSON format (reference §3) into what the completeness tracker needs.
 *
 *   {prefix}/{gateway}/{device}        {"seq","epoch","gateway","device","readings":[{"tag","value","quality","ts"}]}
 *                                      or compact: {…,"device","groups":[{"ts","values":{tag: value}}],"readings":[…]}
 *   {prefix}/{gateway}/{device}/{tag}  {"seq","epoch","value","quality","ts"}
 *   {prefix}/{gateway}/status          retained online flag: not data
 *   {prefix}/{gateway}/{device}/{tag}/set[/result]   write commands: not data
 *
 * A data message that does not have this shape is invalid: a consumer could not use it, so its
 * seq is not counted as received. `epoch` is absent in messages of gateways before epochs.
 */

/** What any format's decoder hands the tracker for one data message. */
export interface Observation {
  readonly gateway: string;
  readonly seq: number;
  /** The seq stream the seq belongs to (reference §4.9); null from a gateway that sends none. */
  readonly epoch: string | null;
  readonly historical: boolean;
  /** The clock flag (reference §4.12): unsynced, corrected or stepped; absent when trusted. */
  readonly clock?: string;
  /** Epoch ms of each reading inside. */
  readonly readingTs: readonly number[];
}

export type Decoded =
  | { readonly kind: 'data'; readonly observation: Observation }
  | { readonly kind: 'ignored' }
  /** gateway: as far as the topic told, so a filter can apply to garbage too. */
  | { readonly kind: 'invalid'; readonly gateway: string | null; readonly reason: string };

/** One MQTT message in, one verdict out. A Sparkplug B decoder is another of these. */
export type MessageDecoder = (topic: string, payload: Buffer) => Decoded;

const IGNORED: Decoded = { kind: 'ignored' };

export function jsonDecoder(prefix: string): MessageDecoder {
  const head = `${prefix}/`;
  return (topic, payload) => {
    if (!topic.startsWith(head)) return IGNORED;
    const levels = topic.slice(head.length).split('/');
    if (levels.some((l) => l === '')) return IGNORED;
    const [gateway] = levels;
    if (levels.length === 2 && levels[1] === 'status') return IGNORED;
    if (levels.length !== 2 && levels.length !== 3) return IGNORED;

    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      return invalid(gateway, 'payload is not JSON');
    }
    if (!isObject(body)) return invalid(gateway, 'payload is not a JSON object');
    const { seq } = body;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return invalid(gateway, 'seq is not a non-negative integer');
    const epoch = body.epoch ?? null;
    if (epoch !== null && (typeof epoch !== 'string' || epoch === '')) return invalid(gateway, 'epoch is not a non-empty string');
    const historical = body.historical === true;
    const clock = typeof body.clock === 'string' ? body.clock : undefined;

    if (levels.length === 3) {
      if (!isTs(body.ts)) return invalid(gateway, 'ts is not a number');
      return { kind: 'data', observation: { gateway, seq, epoch, historical, clock, readingTs: [body.ts] } };
    }
    if (body.gateway !== undefined && body.gateway !== gateway) return invalid(gateway, `gateway "${String(body.gateway)}" differs from the topic's`);
    const { groups, readings } = body;
    if (!Array.isArray(readings) && !Array.isArray(groups)) return invalid(gateway, 'neither readings nor groups is an array');
    if (readings !== undefined && !Array.isArray(readings)) return invalid(gateway, 'readings is not an array');
    if (groups !== undefined && !Array.isArray(groups)) return invalid(gateway, 'groups is not an array');
    const readingTs: number[] = [];
    // The compact layout: one ts per group, stated once for all the group's values.
    for (const g of groups ?? []) {
      if (!isObject(g) || !isTs(g.ts)) return invalid(gateway, 'a group has no numeric ts');
      if (!isObject(g.values)) return invalid(gateway, 'a group\'s values is not an object');
      for (let n = Object.keys(g.values).length; n > 0; n--) readingTs.push(g.ts);
    }
    for (const r of readings ?? []) {
      if (!isObject(r) || !isTs(r.ts)) return invalid(gateway, 'a reading has no numeric ts');
      readingTs.push(r.ts);
    }
    return { kind: 'data', observation: { gateway, seq, epoch, historical, clock, readingTs } };
  };
}

function invalid(gateway: string, reason: string): Decoded {
  return { kind: 'invalid', gateway, reason };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isTs(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
