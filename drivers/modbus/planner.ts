/**
 * Request planner: which FC01–FC04 reads cover a set of tags in the fewest requests.
 *
 * A request is a contiguous range of one area. It is valid when it spans at most the area's
 * maximum (registers or bits) and every run of addresses inside it that no tag covers (the gap
 * read over and discarded) is at most `max_gap` long and holds no forbidden address. Forbidden
 * addresses are learned at run time: gap addresses that answered exception 02.
 *
 * Validity is a property of the range alone and a sub-range of a valid range is valid, so a
 * greedy sweep is optimal: take the uncovered tag that starts first, open a request at its start,
 * stretch it as far right as validity allows, and serve every uncovered tag that fits inside.
 * Any optimal plan's request containing that first tag can be slid right to the same start
 * without losing a tag that is still uncovered, and ours reaches at least as far.
 * drivers/modbus/test/planner.test.ts checks this against an exhaustive set cover.
 *
 * A tag wider than the maximum (a long string, or a maximum learned from a device that refuses
 * long reads) cannot be split without tearing its value, so it is read alone, over exactly its
 * own registers, together with any tag lying inside it.
 */
import type { ModbusArea, ModbusTag } from './schema.js';
import { tagWidth } from './codec.js';

export interface ReadRequest {
  readonly area: ModbusArea;
  readonly start: number;
  /** Registers (holding/input) or bits (coil/discrete). */
  readonly count: number;
  /** Every tag lies entirely inside [start, start + count). */
  readonly tags: readonly ModbusTag[];
}

export interface PlanLimits {
  /** Registers per FC03/FC04 read. */
  readonly max_registers_per_read: number;
  /** Bits per FC01/FC02 read. */
  readonly max_bits_per_read: number;
  /** Longest run of addresses no tag covers that one read may span. */
  readonly max_gap: number;
  /** Addresses that must never be read over as gap, per area. */
  readonly forbidden?: Partial<Record<ModbusArea, ReadonlySet<number>>>;
}

export const AREAS: readonly ModbusArea[] = ['holding', 'input', 'coil', 'discrete'];

export function isBitArea(area: ModbusArea): boolean {
  return area === 'coil' || area === 'discrete';
}

export function maxPerRead(area: ModbusArea, limits: PlanLimits): number {
  return isBitArea(area) ? limits.max_bits_per_read : limits.max_registers_per_read;
}

interface Span {
  readonly tag: ModbusTag;
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

interface Segment {
  start: number;
  end: number;
}

function spansOf(tags: readonly ModbusTag[]): Span[] {
  const spans = tags.map((tag) => ({ tag, start: tag.address, end: tag.address + tagWidth(tag) - 1 }));
  // Longest first at equal starts: the first span of the sweep is then never inside a later one.
  return spans.sort((a, b) => a.start - b.start || b.end - a.end);
}

/** Union of the spans: maximal runs of addresses some tag covers. */
function unionOf(spans: readonly Span[]): Segment[] {
  const segments: Segment[] = [];
  for (const s of spans) {
    const last = segments[segments.length - 1];
    if (last && s.start <= last.end + 1) last.end = Math.max(last.end, s.end);
    else segments.push({ start: s.start, end: s.end });
  }
  return segments;
}

function planArea(area: ModbusArea, tags: readonly ModbusTag[], limits: PlanLimits): ReadRequest[] {
  const spans = spansOf(tags);
  const segments = unionOf(spans);
  const max = maxPerRead(area, limits);
  const forbidden = limits.forbidden?.[area];
  const gapAllowed = (from: number, to: number): boolean => {
    if (to - from + 1 > limits.max_gap) return false;
    if (forbidden) for (let a = from; a <= to; a++) if (forbidden.has(a)) return false;
    return true;
  };

  const requests: ReadRequest[] = [];
  let seg = 0;
  let next = 0;
  // Spans passed over by a request that could not hold them; all start before spans[next].
  let deferred: Span[] = [];
  while (deferred.length > 0 || next < spans.length) {
    const first = deferred.length > 0 ? deferred[0] : spans[next];
    while (segments[seg].end < first.start) seg++;

    let reach: number;
    if (first.end - first.start + 1 > max) {
      reach = first.end;
    } else {
      // Stretch right over covered segments while the gaps between them are allowed.
      const limit = first.start + max - 1;
      let k = seg;
      while (segments[k].end < limit && k + 1 < segments.length) {
        const following = segments[k + 1];
        if (following.start > limit || !gapAllowed(segments[k].end + 1, following.start - 1)) break;
        k++;
      }
      reach = Math.min(segments[k].end, limit);
    }

    const taken: ModbusTag[] = [];
    let end = first.start;
    const stillDeferred: Span[] = [];
    const consider = (s: Span): void => {
      if (s.end <= reach) {
        taken.push(s.tag);
        end = Math.max(end, s.end);
      } else {
        stillDeferred.push(s);
      }
    };
    for (const s of deferred) consider(s);
    while (next < spans.length && spans[next].start <= reach) consider(spans[next++]);
    deferred = stillDeferred;
    requests.push({ area, start: first.start, count: end - first.start + 1, tags: taken });
  }
  return requests.sort((a, b) => a.start - b.start);
}

/** The fewest requests covering `tags` within `limits`, area by area, in address order. */
export function planRequests(tags: readonly ModbusTag[], limits: PlanLimits): ReadRequest[] {
  const requests: ReadRequest[] = [];
  for (const area of AREAS) {
    const inArea = tags.filter((t) => t.area === area);
    if (inArea.length > 0) requests.push(...planArea(area, inArea, limits));
  }
  return requests;
}

/** The requests of one poll cycle per poll interval, shortest interval first. */
export function planCycles(tags: readonly ModbusTag[], limits: PlanLimits): { interval: number; requests: ReadRequest[] }[] {
  const intervals = [...new Set(tags.map((t) => t.poll_interval))].sort((a, b) => a - b);
  return intervals.map((interval) => ({ interval, requests: planRequests(tags.filter((t) => t.poll_interval === interval), limits) }));
}
