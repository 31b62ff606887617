/**
 * What a message says about the clock its readings were stamped with (reference §4.12). Stored as
 * a small integer per message in the buffer; a wire format spells it out, trusted as nothing.
 */
export const ClockFlag = {
  /** Stamped by a synchronised clock that had not stepped back. */
  trusted: 0,
  /** Stamped while the clock was not known to be right, and not corrected (yet, or ever: an earlier boot). */
  unsynced: 1,
  /** Stamped while the clock was not known to be right; ts since recomputed from the monotonic clock. */
  corrected: 2,
  /** Stamped by a synchronised clock after it stepped back, earlier than readings it stamped before. */
  stepped: 3,
} as const;

export type ClockFlag = (typeof ClockFlag)[keyof typeof ClockFlag];

/** The wire's words, by flag; trusted has none (the member is left out). */
export const CLOCK_FLAG_NAMES: readonly string[] = ['', 'unsynced', 'corrected', 'stepped'];

/** The flag with the longest word, for the message-size budget (forward/message-size.ts). */
export const LONGEST_CLOCK_FLAG = CLOCK_FLAG_NAMES.reduce((a, name, flag) => (name.length > CLOCK_FLAG_NAMES[a].length ? flag : a), 0);
