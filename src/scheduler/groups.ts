import type { PollGroup, TagCommon } from '../driver/contract.js';

/** The tags of one device grouped by poll interval, shortest interval first. */
export function pollGroups<T extends TagCommon>(tags: readonly T[]): PollGroup<T>[] {
  const byInterval = new Map<number, T[]>();
  for (const tag of tags) {
    const list = byInterval.get(tag.poll_interval);
    if (list) list.push(tag);
    else byInterval.set(tag.poll_interval, [tag]);
  }
  return [...byInterval.entries()]
    .sort(([a], [b]) => a - b)
    .map(([interval, list]) => ({ key: `${interval}ms`, interval, tags: list }));
}
