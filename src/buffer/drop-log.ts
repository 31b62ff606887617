/**
 * Warns about dropped readings without flooding the journal: the first drop of a reason is
 * logged at once, later ones are summed and logged when the reason's 10 s window closes, so
 * there is at most one line per reason per window (or per MAX_RANGES seq ranges) and every
 * dropped reading appears in one. Each line names the seqs dropped, as ranges ("12-40,57"):
 * a consumer can match every gap it sees against them, seq by seq.
 */
import type { Logger } from '../log.js';
import type { DropReason } from './types.js';

const WINDOW_MS = 10_000;
/** Ranges one line may carry; more close the window early. Drops come in runs: few are needed. */
const MAX_RANGES = 64;

const WHY: Record<DropReason, string> = {
  full: 'the buffer is full (buffer.max_bytes, when_full)',
  max_age: 'they are older than buffer.max_age',
};

/** Inclusive seq ranges, ascending within one drop. */
export type SeqRanges = [lo: number, hi: number][];

interface Window {
  timer: NodeJS.Timeout | undefined;
  readings: number;
  messages: number;
  seqs: SeqRanges;
}

export class DropLog {
  private readonly windows = new Map<DropReason, Window>();

  constructor(private readonly log: Logger) {}

  record(reason: DropReason, readings: number, messages: number, seqs: SeqRanges): void {
    const w = this.windows.get(reason);
    if (!w) {
      this.warn(reason, readings, messages, seqs);
      this.open(reason);
      return;
    }
    w.readings += readings;
    w.messages += messages;
    for (const range of seqs) addRange(w.seqs, range);
    if (w.seqs.length >= MAX_RANGES) {
      this.warn(reason, w.readings, w.messages, w.seqs);
      w.readings = w.messages = 0;
      w.seqs = [];
    }
  }

  /** Logs what the open windows hold and stops their timers (at close). */
  flush(): void {
    for (const [reason, w] of this.windows) {
      clearTimeout(w.timer);
      if (w.messages > 0) this.warn(reason, w.readings, w.messages, w.seqs);
    }
    this.windows.clear();
  }

  private open(reason: DropReason): void {
    const w: Window = { timer: undefined, readings: 0, messages: 0, seqs: [] };
    w.timer = setTimeout(() => {
      this.windows.delete(reason);
      if (w.messages > 0) {
        this.warn(reason, w.readings, w.messages, w.seqs);
        this.open(reason);
      }
    }, WINDOW_MS).unref();
    this.windows.set(reason, w);
  }

  private warn(reason: DropReason, readings: number, messages: number, seqs: SeqRanges): void {
    this.log.warn({ reason, readings, messages, seqs: formatRanges(seqs) }, `dropped ${readings} readings (${messages} messages): ${WHY[reason]}`);
  }
}

/** Appends a range, merging it with the last one when they touch. */
export function addRange(ranges: SeqRanges, [lo, hi]: [number, number]): void {
  const last = ranges[ranges.length - 1];
  if (last && lo === last[1] + 1) last[1] = hi;
  else ranges.push([lo, hi]);
}

/** "3-7,9" */
export function formatRanges(ranges: SeqRanges): string {
  return ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(',');
}

/** The seqs a formatted list names; the inverse of formatRanges. */
export function parseRanges(text: string): number[] {
  if (text === '') return [];
  return text.split(',').flatMap((part) => {
    const [lo, hi = lo] = part.split('-').map(Number);
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  });
}
