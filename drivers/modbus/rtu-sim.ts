/**
 * A simulated Modbus RTU line: several slaves (unit ids) on one serial path, each serving the
 * register map (sim-map.ts) from its own image, for `floorgate sim modbus --rtu PATH`, the tests
 * and the demo. On one end of a socat pty pair it stands where the RS-485 adapter would.
 *
 * The slaves frame requests as a real one does: by length once the function code tells it,
 * by silence otherwise. A frame with a bad CRC is ignored, with whatever follows it until the
 * line is quiet (a slave never answers one), and so is a frame for a unit not served here.
 * Faults, per unit or for all: silent, CRC corrupted, reply cut short, reply under another
 * unit id, exception 02 on chosen addresses.
 *
 * Silence here is max(t3.5, 10 ms), more lenient than a real slave: a pty on a loaded machine
 * may split a frame where a UART would not.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { SerialLine } from '../../src/config/types.js';
import type { ModbusArea } from './schema.js';
import { openSerialPort, type OpenSerial } from '../../src/serial/open-port.js';
import { charsMs, silentIntervalMs } from './rtu-timing.js';
import { crcMatches, FC, requestLength, withCrc } from './rtu-frame.js';
import { PlcImage, loadSimMap, defaultSimMap, type SimMap } from './sim.js';

export interface RtuSimFaults {
  /**
   * silent: requests are not answered; bad_crc: replies carry a wrong CRC; short: replies lose
   * their last three bytes; wrong_unit: replies carry the next unit id.
   */
  readonly mode?: 'normal' | 'silent' | 'bad_crc' | 'short' | 'wrong_unit';
  /** Addresses that answer exception 02 whenever a request touches them. */
  readonly illegal?: Partial<Record<ModbusArea, readonly number[]>>;
}

export interface ModbusRtuSimOptions {
  /** Device path to open: a pty end from startPtyPair(), or a real port. */
  readonly path: string;
  /** Default 9600, no parity, 8 data bits, 1 stop bit. */
  readonly baudRate?: number;
  readonly parity?: SerialLine['parity'];
  readonly stopBits?: SerialLine['stop_bits'];
  /** Unit ids served, each with its own image of the map. Default [1]. */
  readonly units?: readonly number[];
  /** A map, or the path of a YAML/JSON file holding one. Default: the demo PLC. */
  readonly map?: SimMap | string;
  /**
   * Answer as late as a real line at baudRate would let the reply end: a pty carries no baud
   * rate, so the request's characters, the silence after it and the reply's are waited out
   * (from the request's first byte) before the reply is written. For tests of the line's timing.
   */
  readonly wireTiming?: boolean;
}

export interface RtuSimRequest {
  readonly unit: number;
  readonly fc: number;
  /** performance.now() when the request's first byte arrived. */
  readonly at: number;
  /** performance.now() when the reply was written; absent while unanswered, or never answered. */
  replyStartedAt?: number;
  /** performance.now() when the reply had left (drain). */
  repliedAt?: number;
}

export interface ModbusRtuSim {
  readonly path: string;
  readonly units: readonly number[];
  /** Requests received (with a correct CRC, for a unit served here): all, per unit, per function code. */
  requests(unit?: number, functionCode?: number): number;
  /** The requests received (at least the last 10,000), in order, with their timing. */
  history(): readonly RtuSimRequest[];
  /** Replace the faults of one unit, or of all (unit absent); `setFault({})` clears them. */
  setFault(faults: RtuSimFaults, unit?: number): void;
  /** Resolves when the line is gone: close(), or the path vanished. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** The lenient end of silence; see the header. */
const MIN_SILENCE_MS = 10;
const HISTORY_LENGTH = 10_000;

class Refusal extends Error {
  constructor(readonly code: number) {
    super(`exception ${code}`);
  }
}

/** The reply body (unit id … data, no CRC) of one request, or a Refusal. */
function answer(image: PlcImage, faults: RtuSimFaults, frame: Buffer): Buffer {
  const unit = frame[0];
  const fc = frame[1];
  // Every function served has these two fields; a frame too short for them is one it refuses.
  const [address, second] = frame.length >= 8 ? [frame.readUInt16BE(2), frame.readUInt16BE(4)] : [0, 0];
  const check = (area: ModbusArea, n: number, max: number): void => {
    if (n < 1 || n > max) throw new Refusal(3);
    if (address + n > 65536 || faults.illegal?.[area]?.some((a) => a >= address && a < address + n)) throw new Refusal(2);
  };
  const echo = () => Buffer.from(frame.subarray(0, 6));
  switch (fc) {
    case FC.readCoils:
    case FC.readDiscreteInputs: {
      const area = fc === FC.readCoils ? 'coil' : 'discrete';
      check(area, second, 2000);
      const body = Buffer.alloc(3 + Math.ceil(second / 8));
      body.set([unit, fc, body.length - 3]);
      for (let i = 0; i < second; i++) if (image.readBit(area, address + i)) body[3 + (i >> 3)] |= 1 << (i & 7);
      return body;
    }
    case FC.readHoldingRegisters:
    case FC.readInputRegisters: {
      const area = fc === FC.readHoldingRegisters ? 'holding' : 'input';
      check(area, second, 125);
      const words = image.readRegisters(area, address, second);
      const body = Buffer.alloc(3 + words.length * 2);
      body.set([unit, fc, words.length * 2]);
      words.forEach((w, i) => body.writeUInt16BE(w, 3 + i * 2));
      return body;
    }
    case FC.writeCoil:
      if (second !== 0xff00 && second !== 0) throw new Refusal(3);
      check('coil', 1, 1);
      image.writeCoil(address, second === 0xff00);
      return echo();
    case FC.writeRegister:
      check('holding', 1, 1);
      image.writeRegisters(address, [second]);
      return echo();
    case FC.writeCoils:
      check('coil', second, 1968);
      if (frame[6] !== Math.ceil(second / 8)) throw new Refusal(3);
      for (let i = 0; i < second; i++) image.writeCoil(address + i, ((frame[7 + (i >> 3)] >> (i & 7)) & 1) === 1);
      return echo();
    case FC.writeRegisters:
      check('holding', second, 123);
      if (frame[6] !== second * 2) throw new Refusal(3);
      image.writeRegisters(address, Array.from({ length: second }, (_, i) => frame.readUInt16BE(7 + i * 2)));
      return echo();
    default:
      throw new Refusal(1);
  }
}

/** The reply frame as the unit's fault mode spoils it. */
function spoil(body: Buffer, faults: RtuSimFaults): Buffer {
  if (faults.mode === 'wrong_unit') body[0] = (body[0] % 247) + 1;
  const frame = withCrc(body);
  if (faults.mode === 'bad_crc') frame[frame.length - 1] ^= 0x5a;
  return faults.mode === 'short' ? frame.subarray(0, frame.length - 3) : frame;
}

export async function startModbusRtuSim(options: ModbusRtuSimOptions): Promise<ModbusRtuSim> {
  const units = [...new Set(options.units ?? [1])];
  const invalid = units.find((u) => !Number.isInteger(u) || u < 1 || u > 247);
  if (invalid !== undefined) throw new Error(`invalid unit id ${invalid}: RTU unit ids are 1..247`);
  const points = loadSimMap(options.map ?? defaultSimMap);
  const images = new Map(units.map((u) => [u, new PlcImage(points)]));
  const line: SerialLine = {
    port: options.path, baud_rate: options.baudRate ?? 9600, parity: options.parity ?? 'none', data_bits: 8,
    stop_bits: options.stopBits ?? 1,
  };
  const silenceMs = Math.max(silentIntervalMs(line), MIN_SILENCE_MS);

  let faultsForAll: RtuSimFaults = {};
  const faultsOf = new Map<number, RtuSimFaults>();
  const history: RtuSimRequest[] = [];
  /** Requests per "unit:fc", all of them; history keeps only the recent ones. */
  const counts = new Map<string, number>();
  let rx = Buffer.alloc(0);
  let firstByteAt = 0;
  /** After a bad frame: drop everything until the line is quiet. */
  let discarding = false;
  let silence: NodeJS.Timeout | undefined;
  let sending: Promise<void> = Promise.resolve();
  let port: OpenSerial | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => { markClosed = resolve; });

  const reply = (frame: Buffer, record: RtuSimRequest, requestBytes: number): void => {
    const onWireMs = options.wireTiming ? charsMs(line, requestBytes + frame.length) + silentIntervalMs(line) : 0;
    sending = sending.then(async () => {
      const wait = record.at + onWireMs - performance.now();
      if (wait > 0) await delay(wait);
      if (!port || port.lostReason !== undefined) return;
      record.replyStartedAt = performance.now();
      await port.write(frame);
      await port.drain();
      record.repliedAt = performance.now();
    }).catch(() => undefined);
  };

  const serve = (frame: Buffer, at: number): void => {
    const unit = frame[0];
    const image = images.get(unit);
    if (image === undefined) return;
    const record: RtuSimRequest = { unit, fc: frame[1], at };
    const key = `${unit}:${frame[1]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    // A simulator left running for days must not grow without bound.
    if (history.push(record) > 2 * HISTORY_LENGTH) history.splice(0, HISTORY_LENGTH);
    const faults = faultsOf.get(unit) ?? faultsForAll;
    if (faults.mode === 'silent') return;
    let body: Buffer;
    try {
      body = answer(image, faults, frame);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      body = Buffer.from([unit, frame[1] | 0x80, err.code]);
    }
    reply(spoil(body, faults), record, frame.length);
  };

  /** Serve every complete frame at the start of rx. */
  const frames = (): void => {
    for (;;) {
      const length = requestLength(rx);
      // Unknown length (a function code we cannot size): the silence ends it.
      if (length === undefined || length === null || rx.length < length) return;
      const frame = rx.subarray(0, length);
      rx = rx.subarray(length);
      if (!crcMatches(frame)) {
        discarding = true;
        rx = Buffer.alloc(0);
        return;
      }
      serve(frame, firstByteAt);
      firstByteAt = performance.now();
    }
  };

  const quiet = (): void => {
    silence = undefined;
    // A whole frame of a function we cannot size: answer it (exception 01) if its CRC holds.
    if (!discarding && rx.length >= 4 && crcMatches(rx)) serve(rx, firstByteAt);
    rx = Buffer.alloc(0);
    discarding = false;
  };

  port = await openSerialPort(line, new AbortController().signal, {
    onData: (chunk) => {
      clearTimeout(silence);
      silence = setTimeout(quiet, silenceMs);
      if (discarding) return;
      if (rx.length === 0) firstByteAt = performance.now();
      rx = Buffer.concat([rx, chunk]);
      frames();
    },
    onLost: () => {
      clearTimeout(silence);
      markClosed();
    },
  });

  return {
    path: options.path,
    units,
    requests: (unit, fc) => {
      let n = 0;
      for (const [key, count] of counts) {
        const [u, f] = key.split(':').map(Number);
        if ((unit === undefined || u === unit) && (fc === undefined || f === fc)) n += count;
      }
      return n;
    },
    history: () => history,
    setFault: (faults, unit) => {
      if (unit === undefined) {
        faultsForAll = faults;
        faultsOf.clear();
      } else {
        faultsOf.set(unit, faults);
      }
    },
    closed,
    close: async () => {
      clearTimeout(silence);
      await sending;
      await port?.close();
      markClosed();
    },
  };
}
