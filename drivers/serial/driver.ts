/**
 * The raw serial driver: an instrument that sends lines of text (a scale, a barcode reader, a
 * gas analyser), each line matched against the device's pattern, each named group one tag.
 *
 * Two ways to get a line:
 * - Listen-only (no `request`): the device talks when it wants; every matching line goes to
 *   subscribe()'s emit at once, stamped with its arrival time. The scheduler has no poll to fail
 *   for such a device, so a vanished port is handled here: the subscribed tags are reported bad
 *   with the reason, and the port is reopened with backoff until the path is back. A pulled
 *   cable vanishes nothing: with `stale_after`, a silence reports the tags bad (silence.ts).
 * - Request/answer (`request` set): read() writes the request and resolves with the next matching
 *   line, or with bad readings after `timeout`. A vanished port rejects read(), which sends the
 *   scheduler back to connect() with its backoff; connect() succeeds once the path is back.
 * read() also works listen-only (it waits for the next line without writing), so `floorgate
 * probe` can show a streaming instrument's values.
 */
import type { Logger } from 'pino';
import type { Driver, DriverContext, PollGroup, Reading, Unsubscribe } from '../../src/driver/contract.js';
import type { SerialDevice, SerialTag } from './schema.js';
import { Backoff, sleep } from '../../src/backoff.js';
import { openSerialPort, type OpenSerial } from '../../src/serial/open-port.js';
import { BadLineLog } from './bad-lines.js';
import { escapeText } from './escape.js';
import { LineSplitter, type LineSink } from './lines.js';
import { LineMatcher } from './match.js';
import { SilenceWatch } from './silence.js';
import { errorText } from '../../src/error-text.js';

export interface SerialDriverOptions {
  /** Longest line kept while waiting for its delimiter, bytes. Default 4 KiB. */
  readonly maxLineBytes?: number;
  /** ms between two warnings about lines that do not match. Default 10 s. */
  readonly badLineLogIntervalMs?: number;
  /** ms: first and longest wait between attempts to reopen a vanished port while listening. Default 1 s, 5 s. */
  readonly reopenMinMs?: number;
  readonly reopenMaxMs?: number;
}

/** A read() waiting for its line. */
interface Waiter {
  readonly names: ReadonlySet<string>;
  /** The last line that did not match while waiting, for the timeout's error. */
  lastBad?: string;
  accept(readings: Reading[]): void;
  fail(err: Error): void;
}

interface Subscriber {
  readonly tags: readonly SerialTag[];
  readonly names: ReadonlySet<string>;
  readonly emit: (readings: Reading[]) => void;
}

/** Text from the config as the bytes it stands for: one character per byte, as lines are decoded. */
function latin1(text: string, key: string): string {
  const wide = [...text].find((ch) => ch.charCodeAt(0) > 0xff);
  if (wide !== undefined) {
    const code = `U+${wide.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new Error(`${key} contains ${code}, which is not one byte: write bytes as \\xNN escapes in a double-quoted YAML string`);
  }
  return text;
}

function badReadings(tags: readonly SerialTag[], error: string, ts = Date.now()): Reading[] {
  return tags.map((t): Reading => ({ tag: t.name, value: null, quality: 'bad', ts, error }));
}

/** Why a line overflowed, with the fix when the bytes show another line end (a scale ending lines with CR alone). */
function overflowReason(delimiter: string, maxLineBytes: number, lineEnd: string | undefined): string {
  const missing = `no ${escapeText(delimiter)} in ${maxLineBytes} bytes`;
  if (lineEnd === undefined) return missing;
  const end = escapeText(lineEnd);
  return `${missing}; the device seems to end lines with ${end}: set delimiter: ${end}`;
}

export class SerialDriver implements Driver<SerialTag> {
  private port: OpenSerial | undefined;
  private readonly splitter: LineSplitter;
  private readonly sink: LineSink;
  private readonly matcher: LineMatcher;
  private readonly badLines: BadLineLog;
  private readonly request: Buffer | undefined;
  private readonly log: Logger;
  private waiter: Waiter | undefined;
  private subscriber: Subscriber | undefined;
  private reopening: AbortController | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** When the chunk that completed the current line arrived: its readings' ts. */
  private arrival = 0;
  private readonly reopenMinMs: number;
  private readonly reopenMaxMs: number;
  /** Listen-only with stale_after. */
  private readonly silence: SilenceWatch | undefined;
  /** badLines.total at the last matching line: how many did not match during a silence. */
  private badLinesAtMatch = 0;

  constructor(
    private readonly device: SerialDevice,
    private readonly ctx: DriverContext,
    options: SerialDriverOptions = {},
  ) {
    this.log = ctx.log;
    const maxLineBytes = options.maxLineBytes ?? 4096;
    this.splitter = new LineSplitter(latin1(device.delimiter, 'delimiter'), maxLineBytes);
    this.matcher = new LineMatcher(device.pattern, device.tags);
    this.badLines = new BadLineLog(ctx.log, device.port, options.badLineLogIntervalMs ?? 10_000);
    this.request = device.request === undefined ? undefined : Buffer.from(latin1(device.request, 'request'), 'latin1');
    this.reopenMinMs = options.reopenMinMs ?? 1000;
    this.reopenMaxMs = options.reopenMaxMs ?? 5000;
    const staleAfter = device.stale_after;
    this.silence = staleAfter === undefined ? undefined : new SilenceWatch(staleAfter, () => this.onSilence(staleAfter));
    this.sink = {
      line: (text) => this.onLine(text),
      overflow: (head, lineEnd) => this.noteBad(head, overflowReason(device.delimiter, maxLineBytes, lineEnd)),
    };
  }

  /** Lines that did not match the pattern or overflowed, since the driver was created. */
  get badLineCount(): number {
    return this.badLines.total;
  }

  async connect(signal: AbortSignal): Promise<void> {
    this.stopReopening();
    await this.port?.close();
    this.port = undefined;
    this.port = await this.open(signal);
  }

  read(group: PollGroup<SerialTag>, signal: AbortSignal): Promise<Reading[]> {
    return this.exclusive(() => this.nextLine(group.tags, signal));
  }

  async subscribe(tags: readonly SerialTag[], emit: (readings: Reading[]) => void): Promise<Unsubscribe> {
    if (this.request !== undefined) throw new Error('this device has a request: its tags are polled, not pushed');
    const port = this.livePort();
    const sub: Subscriber = { tags, names: new Set(tags.map((t) => t.name)), emit };
    this.subscriber = sub;
    this.watchSilence();
    this.log.info({ port: port.path }, 'listening for lines');
    return async () => {
      if (this.subscriber !== sub) return;
      this.subscriber = undefined;
      this.silence?.stop();
      this.stopReopening();
    };
  }

  async close(): Promise<void> {
    this.silence?.stop();
    this.stopReopening();
    this.waiter?.fail(new Error('the driver was closed'));
    this.badLines.flush();
    const port = this.port;
    this.port = undefined;
    await port?.close();
  }

  private open(signal: AbortSignal): Promise<OpenSerial> {
    // Whatever was half-received on the previous port is not the start of the next line.
    this.splitter.reset();
    return openSerialPort(this.device, signal, {
      onData: (chunk) => this.onData(chunk),
      onLost: (reason) => this.onLost(reason),
    });
  }

  private livePort(): OpenSerial {
    const port = this.port;
    if (!port) throw new Error('not connected');
    if (port.lostReason !== undefined) throw new Error(port.lostReason);
    return port;
  }

  /** One read at a time: an answer must belong to the request that asked for it. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private nextLine(tags: readonly SerialTag[], signal: AbortSignal): Promise<Reading[]> {
    const port = this.livePort();
    signal.throwIfAborted();
    const timeout = this.device.timeout;
    return new Promise((resolve, reject) => {
      const settle = (then: () => void) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (this.waiter === waiter) this.waiter = undefined;
        then();
      };
      const waiter: Waiter = {
        names: new Set(tags.map((t) => t.name)),
        accept: (readings) => settle(() => resolve(readings.filter((r) => waiter.names.has(r.tag)))),
        fail: (err) => settle(() => reject(err)),
      };
      const timer = setTimeout(() => {
        const base = `no ${this.request ? 'answer' : 'line'} within ${timeout} ms`;
        const why = waiter.lastBad === undefined ? base : `${base} (last line did not match the pattern: ${escapeText(waiter.lastBad, 60)})`;
        settle(() => resolve(badReadings(tags, why)));
      }, timeout);
      const onAbort = () => waiter.fail(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = waiter;
      if (this.request) {
        // A quiet request/answer device has nothing half-sent: what is left is noise, not the answer's start.
        const partial = this.splitter.reset();
        if (partial.length > 0) this.noteBad(partial, 'unfinished line before a request');
        this.ctx.countRequest();
        port.write(this.request).catch((err: Error) => waiter.fail(err));
      }
    });
  }

  private onData(chunk: Buffer): void {
    this.arrival = Date.now();
    this.splitter.push(chunk, this.sink);
  }

  private onLine(line: string): void {
    const readings = this.matcher.match(line, this.arrival);
    if (!readings) {
      this.noteBad(line, 'no match for the pattern');
      return;
    }
    this.silence?.matched();
    this.badLinesAtMatch = this.badLines.total;
    this.waiter?.accept(readings);
    const sub = this.subscriber;
    if (sub) sub.emit(readings.filter((r) => sub.names.has(r.tag)));
  }

  private noteBad(line: string, reason: string): void {
    this.badLines.note(line, reason);
    if (this.waiter) this.waiter.lastBad = line;
  }

  private onLost(reason: string): void {
    this.log.warn({ port: this.device.port, reason }, 'serial port lost');
    this.waiter?.fail(new Error(reason));
    // The port's loss is the reason now, not a silence.
    this.silence?.stop();
    const sub = this.subscriber;
    if (!sub) return;
    sub.emit(badReadings(sub.tags, reason));
    void this.reopen(sub, reason);
  }

  private watchSilence(): void {
    this.badLinesAtMatch = this.badLines.total;
    this.silence?.start();
  }

  /** stale_after passed without a matching line: the subscribed tags go bad until the next one. */
  private onSilence(staleAfter: number): void {
    const sub = this.subscriber;
    if (!sub) return;
    const unmatched = this.badLines.total - this.badLinesAtMatch;
    const why = `no matching line for ${staleAfter} ms (stale_after)` +
      (unmatched > 0 ? `; ${unmatched} line${unmatched === 1 ? '' : 's'} did not match the pattern` : '');
    sub.emit(badReadings(sub.tags, why));
  }

  /** Listen-only: try the path again with backoff until it opens or the subscription ends. */
  private async reopen(sub: Subscriber, lostReason: string): Promise<void> {
    this.stopReopening();
    const control = new AbortController();
    this.reopening = control;
    const backoff = new Backoff(this.reopenMinMs, this.reopenMaxMs);
    let lastError = lostReason;
    while (!control.signal.aborted) {
      await sleep(backoff.next(), control.signal);
      if (control.signal.aborted) return;
      try {
        const port = await this.open(control.signal);
        if (control.signal.aborted) {
          await port.close();
          return;
        }
        this.reopening = undefined;
        this.port = port;
        this.watchSilence();
        this.log.info({ port: port.path }, 'serial port reopened');
        return;
      } catch (err) {
        const why = errorText(err);
        // Reported when the reason changes (unplugged → permission denied), not every attempt.
        if (why !== lastError && !control.signal.aborted) {
          lastError = why;
          this.log.warn({ port: this.device.port, reason: why }, 'serial port still unavailable');
          sub.emit(badReadings(sub.tags, why));
        }
      }
    }
  }

  private stopReopening(): void {
    this.reopening?.abort();
    this.reopening = undefined;
  }
}
