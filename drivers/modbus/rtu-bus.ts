/**
 * One RS-485 line shared by every Modbus RTU device on it: one open port per path, counted by
 * the links using it, and one request on the wire at a time.
 *
 * Order: first come, first served. Each driver has at most one request waiting (its own lock
 * serialises them), so a plain FIFO is round-robin between units: a device with a long poll
 * group takes turns with the others request by request instead of holding the line.
 *
 * Timing: a request goes out only after the line has been silent for 3.5 characters (t3.5)
 * since the last byte either way. The end of our own transmission is taken from the port's
 * drain callback (tcdrain), not from the write call, which returns while the bytes are still
 * in the UART; the reply timeout starts there too. Node's timers have 1 ms granularity and may
 * fire early against performance.now(), so the wait is re-checked until it really has passed.
 *
 * Framing: the reply's length follows from its function code (rtu-frame.ts); a complete frame
 * with a correct CRC goes to the link, which judges unit id and content. A CRC error, noise that
 * starts no reply, an incomplete reply or bytes trailing a frame leave the line untrusted:
 * everything is discarded until it has been silent for RESYNC_QUIET_MS, so the next request
 * does not mistake the tail of the garbage for its reply. Bytes outside any exchange (a late
 * reply to a request that timed out, noise) are counted and discarded.
 *
 * Load: how busy the line is, measured where it is serialised. An exchange holds the line from
 * the write of its request until its reply is in (or its timeout ran out), plus the silent
 * interval that must follow; the time held over the last BUSY_WINDOW_MS is reported as a
 * fraction (floorgate_serial_line_busy_ratio). Seen from the host, so it includes what the plan
 * cannot know: the devices' answer time, timeouts, writes, and a USB adapter's latency.
 *
 * Loss: when the port fails or vanishes, every request waiting or on the wire fails with
 * LinkLostError, the bus leaves the registry, and the next acquire opens the path afresh; the
 * scheduler's reconnect backoff paces that until the adapter is back.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { SerialLine } from '../../src/config/types.js';
import { lineSettings } from '../../src/serial/line-settings.js';
import { openSerialPort, type OpenSerial } from '../../src/serial/open-port.js';
import { LinkLostError } from './link.js';
import { RtuErrorLog } from './rtu-errors.js';
import { crcMatches, replyLength } from './rtu-frame.js';
import { silentIntervalMs } from './rtu-timing.js';

/**
 * Silence that proves a garbled line has settled. USB adapters hand bytes over in bursts (an
 * FTDI chip's latency timer is 16 ms), so a pause of t3.5 seen from the host may sit in the
 * middle of the noise.
 */
const RESYNC_QUIET_MS = 20;

/** Bytes shown of a frame in a message. */
const SHOWN_BYTES = 16;

export type RtuOutcome =
  /** A complete frame with a correct CRC; unit id and content are unchecked. */
  | { readonly kind: 'frame'; readonly frame: Buffer }
  | { readonly kind: 'timeout' | 'short' | 'crc' | 'noise'; readonly message: string };

interface Exchange {
  readonly owner: object;
  readonly frame: Buffer;
  readonly timeoutMs: number;
  readonly settle: (outcome: RtuOutcome | Error) => void;
}

interface Active {
  readonly exchange: Exchange;
  rx: Buffer;
  settled: boolean;
  timer?: NodeJS.Timeout;
  done: () => void;
}

const NEVER = new AbortController().signal;
const EMPTY = Buffer.alloc(0);

function hex(bytes: Uint8Array): string {
  const shown = Buffer.from(bytes.subarray(0, SHOWN_BYTES)).toString('hex').replace(/(..)(?!$)/g, '$1 ');
  return bytes.length > SHOWN_BYTES ? `${shown} …` : shown;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** ms over which the line's busy ratio is measured and reported. */
export const BUSY_WINDOW_MS = 5000;

export interface RtuBusOptions {
  /** ms between two warnings about a unit's failed exchanges, or the line's stray bytes. Default 10 s. */
  readonly errorLogIntervalMs?: number;
  /** Hears the line's busy ratio every BUSY_WINDOW_MS, and 0 once the port is closed or lost. */
  readonly serialLineBusy?: (port: string, ratio: number) => void;
}

/** The bus of each open (or opening) path. */
const buses = new Map<string, RtuBus>();
/** Ports still closing, per path: opening the path again before that would fail on its lock. */
const closing = new Map<string, Promise<void>>();

export class RtuBus {
  /** t3.5 of this line, ms. */
  readonly silentMs: number;
  /** Resolves once the port is open; rejects with why it could not be opened. */
  readonly ready: Promise<void>;
  private port: OpenSerial | undefined;
  private lost: string | undefined;
  private refs = 0;
  private readonly queue: Exchange[] = [];
  private active: Active | undefined;
  private pumping = false;
  /** performance.now() of the last byte on the line, sent (drained) or received. */
  private lastActivity = -Infinity;
  /** Silence the next request waits for: t3.5, or RESYNC_QUIET_MS after a garbled frame. */
  private quietMs: number;
  private readonly strays: RtuErrorLog;
  /** ms the line was held in the current measuring window, and when that window began. */
  private busyMs = 0;
  private windowStart = performance.now();
  /** performance.now() the exchange on the line began; undefined between exchanges. */
  private busySince: number | undefined;
  private readonly busyTimer: NodeJS.Timeout | undefined;

  /**
   * `log` and `options` are the opening device's: stray bytes and the line's load belong to no
   * device, so they go to the first one's log and reporter.
   */
  constructor(readonly line: SerialLine, log: Logger, private readonly options: RtuBusOptions) {
    this.silentMs = silentIntervalMs(line);
    this.quietMs = this.silentMs;
    this.strays = new RtuErrorLog(log.child({ port: line.port }), line.port, options.errorLogIntervalMs ?? 10_000);
    if (options.serialLineBusy) this.busyTimer = setInterval(() => this.reportBusy(), BUSY_WINDOW_MS).unref();
    this.ready = this.open();
  }

  get lostReason(): string | undefined {
    return this.lost;
  }

  /**
   * Send one request frame when the line is free and resolve with what came back; rejects with
   * LinkLostError only when the port is gone or the bus closed.
   */
  transact(owner: object, frame: Buffer, timeoutMs: number): Promise<RtuOutcome> {
    if (this.lost !== undefined) return Promise.reject(new LinkLostError(this.lost));
    return new Promise((resolve, reject) => {
      this.queue.push({ owner, frame, timeoutMs, settle: (o) => (o instanceof Error ? reject(o) : resolve(o)) });
      void this.pump();
    });
  }

  /** Fails the requests `owner` still has waiting (its link closed); one already on the wire finishes. */
  cancel(owner: object): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i].owner !== owner) continue;
      this.queue.splice(i, 1)[0].settle(new LinkLostError('connection closed'));
    }
  }

  retain(): void {
    this.refs++;
  }

  /** The last user closes the port. */
  release(): void {
    if (--this.refs === 0) this.fail(`serial port ${this.line.port} closed`);
  }

  private async open(): Promise<void> {
    await closing.get(this.line.port);
    try {
      this.port = await openSerialPort(this.line, NEVER, {
        onData: (chunk) => this.onData(chunk),
        onLost: (reason) => this.fail(reason),
      });
    } catch (err) {
      this.fail((err as Error).message);
      throw err;
    }
  }

  private fail(reason: string): void {
    if (this.lost !== undefined) return;
    this.lost = reason;
    if (buses.get(this.line.port) === this) buses.delete(this.line.port);
    const err = new LinkLostError(reason);
    for (const exchange of this.queue.splice(0)) exchange.settle(err);
    if (this.active) this.finish(this.active, err);
    this.strays.flush();
    clearInterval(this.busyTimer);
    this.options.serialLineBusy?.(this.line.port, 0);
    const closed = this.ready.then(() => this.port?.close(), () => undefined);
    closing.set(this.line.port, closed);
    void closed.then(() => {
      if (closing.get(this.line.port) === closed) closing.delete(this.line.port);
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      await this.ready.catch(() => undefined);
      while (this.lost === undefined && this.queue.length > 0) {
        await this.waitForSilence();
        // Taken only now: a link closed during the wait has withdrawn its request.
        const exchange = this.queue.shift();
        if (exchange === undefined || this.lost !== undefined) break;
        await this.exchange(exchange);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async waitForSilence(): Promise<void> {
    for (;;) {
      const wait = this.lastActivity + this.quietMs - performance.now();
      if (wait <= 0) break;
      await delay(Math.ceil(wait));
    }
    this.quietMs = this.silentMs;
  }

  private async exchange(exchange: Exchange): Promise<void> {
    const port = this.port!;
    const done = new Promise<void>((resolve) => {
      this.active = { exchange, rx: EMPTY, settled: false, done: resolve };
    });
    const active = this.active!;
    this.busySince = performance.now();
    try {
      await port.write(exchange.frame);
      await port.drain();
    } catch (err) {
      // The port has marked itself lost, which normally failed this exchange already.
      this.fail((err as Error).message);
      return;
    }
    this.lastActivity = Math.max(this.lastActivity, performance.now());
    // On a pty the reply can beat the drain callback; then there is nothing left to time.
    if (!active.settled) active.timer = setTimeout(() => this.expire(active), exchange.timeoutMs);
    await done;
  }

  private reportBusy(): void {
    const now = performance.now();
    // An exchange on the line counts in the window it spans.
    if (this.busySince !== undefined) {
      this.busyMs += now - this.busySince;
      this.busySince = now;
    }
    // The silent interval after an exchange at the window's end may spill over.
    this.options.serialLineBusy?.(this.line.port, Math.min(1, this.busyMs / (now - this.windowStart)));
    this.busyMs = 0;
    this.windowStart = now;
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = performance.now();
    const active = this.active;
    if (active === undefined) {
      this.stray(chunk);
      return;
    }
    active.rx = active.rx.length === 0 ? chunk : Buffer.concat([active.rx, chunk]);
    const length = replyLength(active.rx);
    if (length === undefined || (length !== null && active.rx.length < length)) return;
    if (length === null) {
      this.garbled(active, { kind: 'noise', message: `garbled reply: ${hex(active.rx)}` });
      return;
    }
    const frame = active.rx.subarray(0, length);
    const rest = active.rx.subarray(length);
    if (!crcMatches(frame)) {
      this.garbled(active, { kind: 'crc', message: `CRC error in a ${length}-byte reply: ${hex(frame)}` });
      return;
    }
    this.finish(active, { kind: 'frame', frame });
    if (rest.length > 0) this.stray(rest);
  }

  private expire(active: Active): void {
    const { rx, exchange } = active;
    if (rx.length === 0) {
      this.finish(active, { kind: 'timeout', message: `timeout after ${exchange.timeoutMs} ms` });
      return;
    }
    const expected = replyLength(rx);
    this.garbled(active, {
      kind: 'short',
      message: `incomplete reply: ${rx.length}${typeof expected === 'number' ? ` of ${expected}` : ''} bytes ` +
        `within ${exchange.timeoutMs} ms: ${hex(rx)}`,
    });
  }

  /** The exchange failed on bytes that cannot be trusted: resynchronise before the next one. */
  private garbled(active: Active, outcome: RtuOutcome): void {
    this.quietMs = Math.max(this.silentMs, RESYNC_QUIET_MS);
    this.finish(active, outcome);
  }

  private stray(bytes: Buffer): void {
    this.quietMs = Math.max(this.silentMs, RESYNC_QUIET_MS);
    this.strays.note('stray', `${bytes.length} byte${bytes.length === 1 ? '' : 's'} outside any exchange ` +
      `(a late reply, or noise): ${hex(bytes)}`);
  }

  private finish(active: Active, outcome: RtuOutcome | Error): void {
    if (active.settled) return;
    active.settled = true;
    // Timed here, not after the drain: on a pty the reply can beat the drain callback.
    if (this.busySince !== undefined) this.busyMs += performance.now() - this.busySince + this.silentMs;
    this.busySince = undefined;
    clearTimeout(active.timer);
    if (this.active === active) this.active = undefined;
    active.exchange.settle(outcome);
    active.done();
  }
}

/**
 * The bus of `line.port`, opened if no device uses it yet; release() it when done. Rejects
 * when the port cannot be opened, or when it is open with other line settings.
 */
export async function acquireRtuBus(
  line: SerialLine, log: Logger, signal: AbortSignal, options: RtuBusOptions = {},
): Promise<RtuBus> {
  signal.throwIfAborted();
  let bus = buses.get(line.port);
  if (bus === undefined) {
    bus = new RtuBus(line, log, options);
    buses.set(line.port, bus);
  } else if (lineSettings(bus.line) !== lineSettings(line)) {
    throw new Error(`serial port ${line.port} is open at ${lineSettings(bus.line)} for other devices; ` +
      `this device wants ${lineSettings(line)}, and devices sharing a line must agree`);
  }
  // Counted before the open completes, so no other user's release closes it under us.
  bus.retain();
  try {
    await bus.ready;
    signal.throwIfAborted();
  } catch (err) {
    bus.release();
    throw err;
  }
  return bus;
}
