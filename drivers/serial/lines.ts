/**
 * Bytes from the line → lines of text, split on the device's delimiter.
 *
 * Decoding: latin1 (ISO-8859-1). Each byte becomes exactly one character, so decoding never
 * fails or invents U+FFFD, a delimiter or multi-byte character can never be torn apart by a chunk
 * boundary, and the line cap counts bytes. Instruments speak ASCII; a stray byte from a baud
 * mismatch or line noise stays visible (and escaped in logs) instead of vanishing.
 *
 * Memory: a line may hold at most maxLineBytes. Garbage that never sends the delimiter (a wrong
 * baud rate, a binary protocol) is discarded up to the next delimiter and reported once, as an
 * overflow, so the buffer never holds more than maxLineBytes between chunks (or, while
 * discarding, a delimiter's length − 1, to find a delimiter split across two chunks).
 */

export interface LineSink {
  line(text: string): void;
  /**
   * A line longer than the cap was dropped; `head` is its start, for the log. `lineEnd`: the
   * line end the dropped text seems to use instead of the delimiter, if it has one.
   */
  overflow(head: string, lineEnd: string | undefined): void;
}

const HEAD = 64;

/** How instruments end their lines, longest first so that CR LF is not taken for CR. */
const LINE_ENDS = ['\r\n', '\n\r', '\r', '\n', '\x03', '\x04', '\x17', '\x1e'];

/**
 * The line end that text without the delimiter seems to use: the one found most often, and at
 * least twice, so that a stray byte in noise is not taken for one.
 */
function likelyLineEnd(text: string): string | undefined {
  let best: string | undefined;
  let bestCount = 1;
  for (const end of LINE_ENDS) {
    const count = text.split(end).length - 1;
    if (count > bestCount) {
      best = end;
      bestCount = count;
    }
  }
  return best;
}

export class LineSplitter {
  private pending = '';
  /** Inside an over-long line: drop everything up to the next delimiter. */
  private discarding = false;
  private readonly delimiter: string;

  /**
   * delimiter: latin1 text (one character per byte). When it is "\n", a trailing "\r" is removed
   * too, so a device ending its lines with CR LF matches a pattern written with `$`.
   */
  constructor(delimiter: string, private readonly maxLineBytes: number) {
    // An empty delimiter would match everywhere and never advance.
    if (delimiter.length === 0) throw new Error('the delimiter must not be empty');
    this.delimiter = delimiter;
  }

  /** Bytes of a line not yet ended: at most maxLineBytes (or, discarding, the delimiter's length − 1). */
  get pendingBytes(): number {
    return this.pending.length;
  }

  push(chunk: Buffer, sink: LineSink): void {
    const text = this.pending + chunk.toString('latin1');
    const delim = this.delimiter;
    let start = 0;
    for (let at = text.indexOf(delim); at >= 0; at = text.indexOf(delim, start)) {
      const line = text.slice(start, at);
      start = at + delim.length;
      // The tail of an over-long line, already reported when it overflowed.
      if (this.discarding) this.discarding = false;
      else this.emit(line, sink);
    }
    let rest = text.slice(start);
    if (!this.discarding && rest.length > this.maxLineBytes) {
      sink.overflow(rest.slice(0, HEAD), likelyLineEnd(rest));
      this.discarding = true;
    }
    // While discarding, keep just enough to recognise a delimiter split across two chunks.
    if (this.discarding) rest = rest.slice(Math.max(0, rest.length - (delim.length - 1)));
    this.pending = rest;
  }

  /** Drops the unfinished line (returned, possibly empty) and any discard in progress. */
  reset(): string {
    const partial = this.discarding ? '' : this.pending;
    this.pending = '';
    this.discarding = false;
    return partial;
  }

  private emit(raw: string, sink: LineSink): void {
    const line = this.delimiter === '\n' && raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    // Blank lines carry nothing; many instruments send one between records.
    if (line.length === 0) return;
    if (line.length > this.maxLineBytes) sink.overflow(line.slice(0, HEAD), likelyLineEnd(line));
    else sink.line(line);
  }
}
