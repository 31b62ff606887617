/**
 * A simulated weighing scale on a serial line (a pty end in tests and the demo, a real port on a
 * bench). It prints `ST,GS,  12.345 kg\r\n` every intervalMs, or, given a request command, only
 * in answer to it (and `ES` to any other command, as MT-SICS scales do). garble(n) spoils the
 * next n lines the way a baud mismatch or a noisy line would; send() puts raw bytes on the wire.
 */
import { createSerialPort } from '../../src/serial/port-stream.js';

export interface SerialSimOptions {
  /** Device path to open, e.g. a pty from startPtyPair(). */
  readonly path: string;
  readonly baudRate?: number;
  /** ms between lines when streaming. Default 1000. */
  readonly intervalMs?: number;
  /** Answer mode: reply to this command (its trailing delimiter optional) instead of streaming. */
  readonly request?: string;
  /** Ends every line and every command. Default "\r\n". */
  readonly delimiter?: string;
  /** kg. Absent: the weight drifts a little with every line. */
  readonly weight?: number;
}

export interface SerialSim {
  readonly path: string;
  linesSent(): number;
  /** Commands received that matched the request. */
  requests(): number;
  /** Pin the weight the next lines show. */
  setWeight(kg: number): void;
  /** The next n lines go out garbled (never matching the scale's pattern). */
  garble(n: number): void;
  /** Raw bytes (latin1 text or a Buffer) straight onto the line. */
  send(data: Buffer | string): Promise<void>;
  /** Resolves when the line is gone: close() or the path vanished. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** `ST,GS,  12.345 kg`: stable, gross, value right-aligned in 8 characters. */
export function scaleLine(kg: number): string {
  return `ST,GS,${kg.toFixed(3).padStart(8)} kg`;
}

/** Bytes 0x80–0xFF over the status and part of the value: no ASCII pattern can match them. */
function spoil(line: string): string {
  const noise = () => String.fromCharCode(0x80 + Math.floor(Math.random() * 0x80));
  const chars = [...line];
  for (let i = 0; i < 3; i++) chars[i] = noise();
  chars[Math.floor(chars.length / 2)] = noise();
  return chars.join('');
}

export async function startSerialSim(opts: SerialSimOptions): Promise<SerialSim> {
  const delimiter = opts.delimiter ?? '\r\n';
  const command = opts.request?.endsWith(delimiter) ? opts.request.slice(0, -delimiter.length) : opts.request;
  const port = createSerialPort({ path: opts.path, baudRate: opts.baudRate ?? 9600 });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));

  let weight = opts.weight ?? 12.345;
  let drifting = opts.weight === undefined;
  let sent = 0;
  let answered = 0;
  let toGarble = 0;
  let input = '';
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<void>((resolve) => port.once('close', () => {
    clearInterval(timer);
    resolve();
  }));
  // The peer vanishing is what a test wants to cause; it surfaces as 'close', not as a crash.
  port.on('error', () => undefined);

  const write = (data: Buffer | string) => new Promise<void>((resolve) => {
    if (!port.isOpen) return resolve();
    port.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, () => resolve());
  });
  const sendReading = () => {
    if (drifting) weight = Math.round((weight + (Math.random() - 0.5) * 0.01) * 1000) / 1000;
    let line = scaleLine(weight);
    if (toGarble > 0) {
      toGarble--;
      line = spoil(line);
    }
    sent++;
    void write(line + delimiter);
  };

  if (command === undefined) {
    timer = setInterval(sendReading, opts.intervalMs ?? 1000);
  } else {
    port.on('data', (chunk: Buffer) => {
      input += chunk.toString('latin1');
      for (let at = input.indexOf(delimiter); at >= 0; at = input.indexOf(delimiter)) {
        const received = input.slice(0, at);
        input = input.slice(at + delimiter.length);
        if (received === command) {
          answered++;
          sendReading();
        } else {
          void write(`ES${delimiter}`);
        }
      }
      // A peer that never sends the delimiter must not grow this without bound.
      if (input.length > 1024) input = '';
    });
  }

  return {
    path: opts.path,
    linesSent: () => sent,
    requests: () => answered,
    setWeight: (kg) => {
      weight = kg;
      drifting = false;
    },
    garble: (n) => {
      toGarble += n;
    },
    send: write,
    closed,
    close: async () => {
      clearInterval(timer);
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
      await closed;
    },
  };
}
