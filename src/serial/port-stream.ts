/**
 * serialport's stream over its native binding, with one fix: a hung-up tty is reported as a
 * disconnect instead of being read forever.
 *
 * Why: on Unix, bindings-cpp's read loop takes a 0-byte read for "no data yet" and reads again at
 * once (serialport/bindings-cpp issue #162, open). But a tty whose device is gone (a USB adapter
 * unplugged, a pty whose other end closed) is hung up and every read returns 0 (end of file).
 * The loss is only noticed if the port happened to be waiting in poll() at that instant; if a
 * read was under way (bytes were arriving, as from a streaming scale), the loop spins a core,
 * grows a promise chain until the process runs out of memory, and never reports the loss.
 * The read below is that loop with the one difference: 0 bytes = the device hung up.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { SerialPortStream } from '@serialport/stream';
import { SerialPort } from 'serialport';

type Binding = typeof SerialPort.binding;

/** What the Unix port bindings (Linux, macOS) expose and the read loop needs. */
interface UnixPortBinding {
  readonly fd: number | null;
  readonly isOpen: boolean;
  readonly poller: { once(event: 'readable', callback: (err: Error | null) => void): unknown };
}

const readAsync = promisify(fs.read);

/** SerialPortStream ends its read loop quietly on a canceled error, and disconnects on any other. */
function canceled(): Error {
  return Object.assign(new Error('Port is not open'), { canceled: true });
}

async function readUnix(port: UnixPortBinding, buffer: Buffer, offset: number, length: number) {
  for (;;) {
    if (!port.isOpen || port.fd === null) throw canceled();
    let bytesRead: number;
    try {
      ({ bytesRead } = await readAsync(port.fd, buffer, offset, length, null));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') throw err;
      if (!port.isOpen) throw canceled();
      // A hang-up while waiting here arrives as an error from the poller (POLLERR).
      await new Promise<void>((resolve, reject) => port.poller.once('readable', (e) => (e ? reject(e) : resolve())));
      continue;
    }
    if (bytesRead === 0) throw new Error('the device hung up');
    return { bytesRead, buffer };
  }
}

const hangupAwareBinding: Binding = {
  list: () => SerialPort.binding.list(),
  async open(options: Parameters<Binding['open']>[0]) {
    const port = await SerialPort.binding.open(options as never);
    // Windows has no poller and no such loop; its binding is used as it is.
    if ('poller' in port) {
      const unix = port as unknown as UnixPortBinding;
      port.read = (buffer: Buffer, offset: number, length: number) => readUnix(unix, buffer, offset, length);
    }
    return port;
  },
} as Binding;

export interface SerialPortOptions {
  readonly path: string;
  readonly baudRate: number;
  readonly dataBits?: 7 | 8;
  readonly stopBits?: 1 | 2;
  readonly parity?: 'none' | 'even' | 'odd';
}

/** A closed port; call open(). */
export function createSerialPort(options: SerialPortOptions): SerialPortStream {
  return new SerialPortStream({ binding: hangupAwareBinding, autoOpen: false, ...options });
}
