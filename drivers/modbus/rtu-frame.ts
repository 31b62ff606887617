/**
 * Modbus RTU framing, pure: the CRC-16, the request frames, how long a frame is from its first
 * bytes, and what a reply must say. Shared by the master (rtu-link.ts, rtu-bus.ts) and the
 * simulated slaves (rtu-sim.ts), so both ends agree byte for byte; pymodbus checks them both.
 *
 * A frame is unit id, function code, data, CRC (low byte first). RTU has no length field and no
 * transaction id: a reply's length follows from its function code (and byte count), and a
 * reply is matched to its request only by unit id and function code, which is why the bus
 * carries one request at a time.
 */
import { exceptionMessage } from './link.js';

/** CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF), one table lookup per byte. */
const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

export function crc16(data: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of data) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ byte) & 0xff];
  return crc;
}

/** The frame: body followed by its CRC, low byte first. */
export function withCrc(body: Uint8Array): Buffer {
  const frame = Buffer.alloc(body.length + 2);
  frame.set(body);
  frame.writeUInt16LE(crc16(body), body.length);
  return frame;
}

export function crcMatches(frame: Buffer): boolean {
  return frame.length >= 4 && frame.readUInt16LE(frame.length - 2) === crc16(frame.subarray(0, -2));
}

export const FC = {
  readCoils: 1,
  readDiscreteInputs: 2,
  readHoldingRegisters: 3,
  readInputRegisters: 4,
  writeCoil: 5,
  writeRegister: 6,
  writeCoils: 15,
  writeRegisters: 16,
} as const;

export type ReadFunction = 1 | 2 | 3 | 4;

/** A request on its way: the frame, and the length of the normal reply it calls for. */
export interface RtuRequest {
  readonly unit: number;
  readonly fc: number;
  readonly frame: Buffer;
  readonly replyLength: number;
}

function fixed(unit: number, fc: number, a: number, b: number, replyLength: number): RtuRequest {
  const body = Buffer.alloc(6);
  body.writeUInt8(unit, 0);
  body.writeUInt8(fc, 1);
  body.writeUInt16BE(a, 2);
  body.writeUInt16BE(b, 4);
  return { unit, fc, frame: withCrc(body), replyLength };
}

/** Data bytes of a read reply: two per register, one per eight bits. */
export function readByteCount(fc: ReadFunction, count: number): number {
  return fc <= 2 ? Math.ceil(count / 8) : count * 2;
}

export function readRequest(unit: number, fc: ReadFunction, start: number, count: number): RtuRequest {
  return fixed(unit, fc, start, count, 5 + readByteCount(fc, count));
}

export function writeCoilRequest(unit: number, address: number, on: boolean): RtuRequest {
  return fixed(unit, FC.writeCoil, address, on ? 0xff00 : 0x0000, 8);
}

export function writeRegisterRequest(unit: number, address: number, value: number): RtuRequest {
  return fixed(unit, FC.writeRegister, address, value, 8);
}

export function writeRegistersRequest(unit: number, address: number, values: readonly number[]): RtuRequest {
  const body = Buffer.alloc(7 + values.length * 2);
  body.writeUInt8(unit, 0);
  body.writeUInt8(FC.writeRegisters, 1);
  body.writeUInt16BE(address, 2);
  body.writeUInt16BE(values.length, 4);
  body.writeUInt8(values.length * 2, 6);
  values.forEach((v, i) => body.writeUInt16BE(v, 7 + i * 2));
  return { unit, fc: FC.writeRegisters, frame: withCrc(body), replyLength: 8 };
}

/**
 * Length of the reply frame that starts at buf[0]: a number once enough bytes are there to
 * tell, undefined while more are needed, null when no reply starts like this (a function code
 * floorgate never sends: the bytes are noise).
 */
export function replyLength(buf: Uint8Array): number | null | undefined {
  if (buf.length < 2) return undefined;
  const fc = buf[1];
  if (fc & 0x80) return 5;
  if (fc >= 1 && fc <= 4) return buf.length < 3 ? undefined : 5 + buf[2];
  if (fc === 5 || fc === 6 || fc === 15 || fc === 16) return 8;
  return null;
}

/** Length of the request frame that starts at buf[0], for the slave side; same conventions. */
export function requestLength(buf: Uint8Array): number | null | undefined {
  if (buf.length < 2) return undefined;
  const fc = buf[1];
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return buf.length < 7 ? undefined : 9 + buf[6];
  return null;
}

export interface ReplyProblem {
  readonly kind: 'wrong_unit' | 'wrong_function' | 'malformed' | 'exception';
  readonly message: string;
  /** The exception code, for kind 'exception'. */
  readonly code?: number;
}

/** What is wrong with a well-framed reply (CRC correct) to `request`; undefined when nothing is. */
export function replyProblem(request: RtuRequest, frame: Buffer): ReplyProblem | undefined {
  const unit = frame[0];
  const fc = frame[1];
  if (unit !== request.unit) return { kind: 'wrong_unit', message: `reply from unit ${unit}, expected unit ${request.unit}` };
  if (fc === (request.fc | 0x80)) return { kind: 'exception', message: exceptionMessage(frame[2]), code: frame[2] };
  if (fc !== request.fc) return { kind: 'wrong_function', message: `reply for function ${fc & 0x7f}, expected function ${request.fc}` };
  if (frame.length !== request.replyLength) {
    return { kind: 'malformed', message: `reply of ${frame.length} bytes, expected ${request.replyLength} for this request` };
  }
  // Writes echo what they did: an echo of something else means the write went elsewhere.
  if (request.fc >= 5 && !frame.subarray(2, 6).equals(request.frame.subarray(2, 6))) {
    return { kind: 'malformed', message: `the device confirmed a different write (${frame.subarray(2, 6).toString('hex')})` };
  }
  return undefined;
}

/** The registers of a checked FC03/FC04 reply. */
export function replyRegisters(frame: Buffer): number[] {
  const out: number[] = [];
  for (let i = 3; i < frame.length - 2; i += 2) out.push(frame.readUInt16BE(i));
  return out;
}

/** The first `count` bits of a checked FC01/FC02 reply, least significant bit of each byte first. */
export function replyBits(frame: Buffer, count: number): boolean[] {
  return Array.from({ length: count }, (_, i) => ((frame[3 + (i >> 3)] >> (i & 7)) & 1) === 1);
}
