/**
 * The status page's filter, applied by the gateway so the page is sent only the tags it shows:
 * "text" matches device or tag names, "dev/tag" matches both parts; case-insensitive
 * substrings. A match is kept per filter and layout (the table's tags change only on a reload),
 * so a page polling with the same filter costs one scan, not one a second.
 */
import type { TagTable } from '../health.js';
import type { LoopShare } from './loop-share.js';

export interface TagMatch {
  /** Per device of the table, in its order: the indices of its matching tags, or null when all of them match. */
  readonly indices: readonly (readonly number[] | null)[];
  /** Per device of the table: how many of its tags match. */
  readonly counts: readonly number[];
  readonly matched: number;
  readonly total: number;
  /** Whether the page lists a device: its name matches, or some of its tags do. */
  shows(device: string, matchedTags: number): boolean;
}

/** Filters kept at once: a few pages with filters of their own. */
const KEPT = 8;

export class TagMatches {
  private readonly kept = new Map<string, Promise<TagMatch>>();

  of(table: TagTable, filter: string, share: LoopShare): Promise<TagMatch> {
    const key = table.layoutVersion + '\0' + filter;
    let match = this.kept.get(key);
    if (!match) {
      match = matchTags(table, filter, share);
      this.kept.set(key, match);
      if (this.kept.size > KEPT) this.kept.delete(this.kept.keys().next().value!);
      // A failed scan is not kept.
      match.catch(() => this.kept.delete(key));
    }
    return match;
  }
}

async function matchTags(table: TagTable, filter: string, share: LoopShare): Promise<TagMatch> {
  const q = filter.trim().toLowerCase();
  const slash = q.indexOf('/');
  const devicePart = slash < 0 ? q : q.slice(0, slash);
  const tagPart = slash < 0 ? q : q.slice(slash + 1);
  const has = (name: string, part: string) => part === '' || name.toLowerCase().includes(part);
  const indices: (number[] | null)[] = [];
  const counts: number[] = [];
  let matched = 0;
  let total = 0;
  for (const device of table.devices) {
    total += device.tags.length;
    const deviceMatches = has(device.name, devicePart);
    let chosen: number[] | null = null;
    // Without a slash a device's name matching takes all its tags; with one, its tags must match too.
    if (slash < 0 ? !deviceMatches : deviceMatches && tagPart !== '') {
      chosen = [];
      for (let i = 0; i < device.tags.length; i++) {
        const pause = share.step();
        if (pause) await pause;
        if (has(device.tags[i], tagPart)) chosen.push(i);
      }
    } else if (!deviceMatches) {
      chosen = [];
    }
    indices.push(chosen);
    counts.push(chosen ? chosen.length : device.tags.length);
    matched += counts[counts.length - 1];
  }
  return { indices, counts, matched, total, shows: (device, matchedTags) => matchedTags > 0 || has(device, devicePart) };
}
