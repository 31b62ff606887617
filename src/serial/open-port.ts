/**
 * One open serial port (RS-232/485 adapter, or a pty in tests) with its failures put into words.
 * Shared by the raw `serial` driver and, later, Modbus RTU: both need the line settings applied,
 * an unplugged USB adapter noticed at once, and an open that fails to say why an operator can act on.
 *
 * The port reports bytes and its own loss through handlers; after close() it reports nothing,
 * so a caller that replaces a port never hears from the old one again.
 */
import fs from 'node:fs';
import type { SerialPortStream } from '@serialport/stream';
import { createSerialPort } from './port-stream.js';
import type { SerialLine } from '../config/types.js';
import { errorText } from '../error-text.js';

export interface SerialHandlers {
  onData(chunk: Buffer): void;
  /** The port is gone (unplugged, driver unloaded, I/O error). Called at most once. */
  onLost(reason: string): void;
}

export interface OpenSerial {
  readonly path: string;
  /** Why the port is gone, once it is. */
  readonly lostReason: string | undefined;
  /** Resolves when the bytes are handed to the OS; a failure also marks the port lost. */
  write(data: Buffer): Promise<void>;
  /**
   * Resolves once the OS has sent every byte written so far (tcdrain): where a frame ends on
   * the wire, which Modbus RTU's silent interval is timed from. A failure also marks the port lost.
   */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * serialport's errors carry no code, only text from the C binding ("Error: No such file or
 * directory, cannot open /dev/ttyUSB0"); these are the cases an operator can fix.
 */
const OPEN_HINTS: readonly [RegExp, string][] = [
  [/no such file or directory/i, 'not found (unplugged, or a wrong path; prefer /dev/serial/by-id/…)'],
  [/permission denied/i, 'permission denied (the floorgate user must be in the dialout group)'],
  [/cannot lock port|resource temporarily unavailable|device or resource busy/i, 'in use by another program'],
  [/inappropriate ioctl/i, 'is not a serial port'],
];

export function describeOpenError(path: string, err: unknown): string {
  const raw = errorText(err);
  const hint = OPEN_HINTS.find(([re]) => re.test(raw));
  return `cannot open serial port ${path}: ${hint ? hint[1] : raw.replace(/^Error:\s*/, '')}`;
}

/** Errors of a device node whose device is gone. */
const GONE = /\b(EIO|ENXIO|ENODEV|EBADF)\b/;

class Port implements OpenSerial {
  private lost: string | undefined;
  private closed = false;

  constructor(private readonly port: SerialPortStream, private readonly handlers: SerialHandlers) {
    port.on('data', (chunk: Buffer) => {
      if (!this.closed) handlers.onData(chunk);
    });
    // Without a listener an 'error' event would throw; a read error is followed by 'close'.
    port.on('error', (err: Error) => this.markLost(`serial port ${this.path} failed: ${err.message}`));
    port.on('close', (err: (Error & { disconnected?: boolean }) | null) => {
      this.markLost(err?.disconnected ? this.disconnected() : `serial port ${this.path} closed${err ? `: ${err.message}` : ''}`);
    });
  }

  private disconnected(): string {
    return `serial port ${this.path} disconnected (unplugged?)`;
  }

  get path(): string {
    return this.port.path;
  }

  get lostReason(): string | undefined {
    return this.lost;
  }

  write(data: Buffer): Promise<void> {
    if (this.lost !== undefined) return Promise.reject(new Error(this.lost));
    return new Promise((resolve, reject) => {
      this.port.write(data, (err) => (err ? reject(this.failed(err, 'write')) : resolve()));
    });
  }

  drain(): Promise<void> {
    if (this.lost !== undefined) return Promise.reject(new Error(this.lost));
    return new Promise((resolve, reject) => {
      this.port.drain((err) => (err ? reject(this.failed(err, 'drain')) : resolve()));
    });
  }

  /** A write or drain that failed: the port is lost either way. Returns the error to reject with. */
  private failed(err: Error, what: 'write' | 'drain'): Error {
    // The write can hit the vanished device before the read side reports it.
    const reason = GONE.test(err.message) ? this.disconnected() : `serial port ${this.path} ${what} failed: ${err.message}`;
    this.markLost(reason);
    return new Error(reason);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.lost ??= `serial port ${this.path} closed`;
    if (!this.port.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.port.close(() => resolve()));
  }

  private markLost(reason: string): void {
    if (this.lost !== undefined || this.closed) return;
    this.lost = reason;
    this.handlers.onLost(reason);
  }
}

/** Opens the port with the line's settings; rejects with an Error saying why it could not. */
export async function openSerialPort(line: SerialLine, signal: AbortSignal, handlers: SerialHandlers): Promise<OpenSerial> {
  signal.throwIfAborted();
  // Checked first because Node's errors here are exact (ENOENT, EACCES) where serialport's are free text.
  await fs.promises.access(line.port, fs.constants.R_OK | fs.constants.W_OK).catch((err: unknown) => {
    throw new Error(describeOpenError(line.port, err));
  });
  const port = createSerialPort({
    path: line.port,
    baudRate: line.baud_rate,
    dataBits: line.data_bits,
    stopBits: line.stop_bits,
    parity: line.parity,
  });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => (err ? reject(new Error(describeOpenError(line.port, err))) : resolve()));
  });
  const open = new Port(port, handlers);
  if (signal.aborted) {
    await open.close();
    signal.throwIfAborted();
  }
  return open;
}
