/**
 * Warns about dropped readings without flooding the journal: the first drop of a reason is
 * logged at once, later ones are summed and logged when the reason's 10 s window closes, so
 * there is at most one line per reason per window and every dropped reading appears in one.
 */
import type { Logger } from '../log.js';
import type { DropReason } from './types.js';

const WINDOW_MS = 10_000;

const WHY: Record<DropReason, string> = {
  full: 'the buffer is full (buffer.max_bytes, when_full)',
  max_age: 'they are older than buffer.max_age',
};

interface Window {
  timer: NodeJS.Timeout | undefined;
  readings: number;
  messages: number;
}

export class DropLog {
  private readonly windows = new Map<DropReason, Window>();

  constructor(private readonly log: Logger) {}

  record(reason: DropReason, readings: number, messages: number): void {
    const w = this.windows.get(reason);
    if (w) {
      w.readings += readings;
      w.messages += messages;
      return;
    }
    this.warn(reason, readings, messages);
    this.open(reason);
  }

  /** Logs what the open windows hold and stops their timers (at close). */
  flush(): void {
    for (const [reason, w] of this.windows) {
      clearTimeout(w.timer);
      if (w.readings > 0 || w.messages > 0) this.warn(reason, w.readings, w.messages);
    }
    this.windows.clear();
  }

  private open(reason: DropReason): void {
    const w: Window = { timer: undefined, readings: 0, messages: 0 };
    w.timer = setTimeout(() => {
      this.windows.delete(reason);
      if (w.readings > 0 || w.messages > 0) {
        this.warn(reason, w.readings, w.messages);
        this.open(reason);
      }
    }, WINDOW_MS).unref();
    this.windows.set(reason, w);
  }

  private warn(reason: DropReason, readings: number, messages: number): void {
    this.log.warn({ reason, readings, messages }, `dropped ${readings} readings (${messages} messages): ${WHY[reason]}`);
  }
}
