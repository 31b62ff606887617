/**
 * Modbus PDUs, pure: the requests floorgate sends (FC01–06, FC16) and what a reply must say to
 * answer one. Both transports carry the same unit id + PDU and differ only in what surrounds
 * it: Modbus TCP puts the MBAP header in front (tcp-link.ts), RTU a CRC behind (rtu-frame.ts).
 *
 * Every request is built straight into its transport frame, one Buffer with room left for the
 * header or trailer that the transport fills in; replies are checked and decoded where they lie
 * in the received frame, without copying.
 */
import { exceptionMessage } from './link.js';

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

/** Where the unit id + PDU sit in a transport's frame. */
export interface Framing {
  /** Bytes before the unit id (TCP: the MBAP header up to it). */
  readonly head: number;
  /** Bytes after the PDU (RTU: the CRC). */
  readonly tail: number;
}

/** A request on its way: its frame, and the length of the normal reply frame it calls for. */
export interface ModbusRequest {
  readonly unit: number;
  readonly fc: number;
  /** Unit id and PDU written; the transport's head and tail are still to be filled in. */
  readonly frame: Buffer;
  readonly replyLength: number;
}

/** Data bytes of a read reply: two per register, one per eight bits. */
function readByteCount(fc: ReadFunction, count: number): number {
  return fc <= 2 ? Math.ceil(count / 8) : count * 2;
}

/** A request whose PDU holds `data` bytes after the function code; its reply, `replyData`. */
function request(framing: Framing, unit: number, fc: number, data: number, replyData: number): ModbusRequest {
  // Unsafe (pooled, not zeroed): every byte is written here, by the caller or by the transport.
  const frame = Buffer.allocUnsafe(framing.head + 2 + data + framing.tail);
  frame.writeUInt8(unit, framing.head);
  frame.writeUInt8(fc, framing.head + 1);
  return { unit, fc, frame, replyLength: framing.head + 2 + replyData + framing.tail };
}

/** The four-byte PDUs: an address and a count or value. */
function fixed(framing: Framing, unit: number, fc: number, a: number, b: number, replyData: number): ModbusRequest {
  const req = request(framing, unit, fc, 4, replyData);
  req.frame.writeUInt16BE(a, framing.head + 2);
  req.frame.writeUInt16BE(b, framing.head + 4);
  return req;
}

export function readRequest(framing: Framing, unit: number, fc: ReadFunction, start: number, count: number): ModbusRequest {
  return fixed(framing, unit, fc, start, count, 1 + readByteCount(fc, count));
}

export function writeCoilRequest(framing: Framing, unit: number, address: number, on: boolean): ModbusRequest {
  return fixed(framing, unit, FC.writeCoil, address, on ? 0xff00 : 0x0000, 4);
}

export function writeRegisterRequest(framing: Framing, unit: number, address: number, value: number): ModbusRequest {
  return fixed(framing, unit, FC.writeRegister, address, value, 4);
}

export function writeRegistersRequest(framing: Framing, unit: number, address: number, values: readonly number[]): ModbusRequest {
  const req = request(framing, unit, FC.writeRegisters, 5 + values.length * 2, 4);
  const at = framing.head + 2;
  req.frame.writeUInt16BE(address, at);
  req.frame.writeUInt16BE(values.length, at + 2);
  req.frame.writeUInt8(values.length * 2, at + 4);
  values.forEach((v, i) => req.frame.writeUInt16BE(v, at + 5 + i * 2));
  return req;
}

export interface ReplyProblem {
  readonly kind: 'wrong_unit' | 'wrong_function' | 'malformed' | 'exception';
  readonly message: string;
  /** The exception code, for kind 'exception'. */
  readonly code?: number;
}

/** What is wrong with a well-framed reply to `request`; undefined when nothing is. */
export function replyProblem(framing: Framing, request: ModbusRequest, reply: Buffer): ReplyProblem | undefined {
  const at = framing.head;
  const unit = reply[at];
  const fc = reply[at + 1];
  if (unit !== request.unit) return { kind: 'wrong_unit', message: `reply from unit ${unit}, expected unit ${request.unit}` };
  if (fc === (request.fc | 0x80)) return { kind: 'exception', message: exceptionMessage(reply[at + 2]), code: reply[at + 2] };
  if (fc !== request.fc) return { kind: 'wrong_function', message: `reply for function ${fc & 0x7f}, expected function ${request.fc}` };
  if (reply.length !== request.replyLength) {
    return { kind: 'malformed', message: `reply of ${reply.length} bytes, expected ${request.replyLength} for this request` };
  }
  // RTU sizes a reply by its byte count, so only a TCP frame (sized by MBAP) gets this far with a wrong one.
  const byteCount = request.replyLength - at - framing.tail - 3;
  if (fc <= 4 && reply[at + 2] !== byteCount) {
    return { kind: 'malformed', message: `byte count ${reply[at + 2]}, expected ${byteCount} for this request` };
  }
  // Writes echo what they did: an echo of something else means the write went elsewhere.
  if (fc >= 5 && reply.compare(request.frame, at + 2, at + 6, at + 2, at + 6) !== 0) {
    return { kind: 'malformed', message: `the device confirmed a different write (${reply.subarray(at + 2, at + 6).toString('hex')})` };
  }
  return undefined;
}

/** The registers of a checked FC03/FC04 reply. A plain array: cheaper to make than a typed one. */
export function replyRegisters(framing: Framing, reply: Buffer): number[] {
  const data = framing.head + 3;
  const registers = new Array<number>(reply[framing.head + 2] >> 1);
  for (let i = 0; i < registers.length; i++) registers[i] = (reply[data + 2 * i] << 8) | reply[data + 2 * i + 1];
  return registers;
}

/** The first `count` bits of a checked FC01/FC02 reply, least significant bit of each byte first. */
export function replyBits(framing: Framing, reply: Buffer, count: number): boolean[] {
  const data = framing.head + 3;
  const bits = new Array<boolean>(count);
  for (let i = 0; i < count; i++) bits[i] = ((reply[data + (i >> 3)] >> (i & 7)) & 1) === 1;
  return bits;
}
