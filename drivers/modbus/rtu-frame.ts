/**
 * Modbus RTU framing, pure: the CRC-16, the request frames, how long a frame is from its first
 * bytes, and what a reply must say (the PDU inside, shared with Modbus TCP, is pdu.ts's).
 * Shared by the master (rtu-link.ts, rtu-bus.ts) and the simulated slaves (rtu-sim.ts), so
 * both ends agree byte for byte; pymodbus checks them both.
 *
 * A frame is unit id, function code, data, CRC (low byte first). RTU has no length field and no
 * transaction id: a reply's length follows from its function code (and byte count), and a
 * reply is matched to its request only by unit id and function code, which is why the bus
 * carries one request at a time.
 */
import * as pdu from './pdu.js';
import type { Framing, ModbusRequest, ReadFunction, ReplyProblem } from './pdu.js';

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

/** Fills the last two bytes of `frame` with the CRC of the rest, low byte first. */
function writeCrc(frame: Buffer): Buffer {
  frame.writeUInt16LE(crc16(frame.subarray(0, -2)), frame.length - 2);
  return frame;
}

/** The frame: body followed by its CRC. */
export function withCrc(body: Uint8Array): Buffer {
  const frame = Buffer.alloc(body.length + 2);
  frame.set(body);
  return writeCrc(frame);
}

export function crcMatches(frame: Buffer): boolean {
  return frame.length >= 4 && frame.readUInt16LE(frame.length - 2) === crc16(frame.subarray(0, -2));
}

/** The RTU frame around unit id + PDU: nothing before, the CRC after. */
const RTU: Framing = { head: 0, tail: 2 };

export { FC } from './pdu.js';

/** A request whose frame ends in its CRC. */
export type RtuRequest = ModbusRequest;

function sealed(request: ModbusRequest): RtuRequest {
  writeCrc(request.frame);
  return request;
}

export function readRequest(unit: number, fc: ReadFunction, start: number, count: number): RtuRequest {
  return sealed(pdu.readRequest(RTU, unit, fc, start, count));
}

export function writeCoilRequest(unit: number, address: number, on: boolean): RtuRequest {
  return sealed(pdu.writeCoilRequest(RTU, unit, address, on));
}

export function writeRegisterRequest(unit: number, address: number, value: number): RtuRequest {
  return sealed(pdu.writeRegisterRequest(RTU, unit, address, value));
}

export function writeRegistersRequest(unit: number, address: number, values: readonly number[]): RtuRequest {
  return sealed(pdu.writeRegistersRequest(RTU, unit, address, values));
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

/** What is wrong with a well-framed reply (CRC correct) to `request`; undefined when nothing is. */
export function replyProblem(request: RtuRequest, frame: Buffer): ReplyProblem | undefined {
  return pdu.replyProblem(RTU, request, frame);
}

/** The registers of a checked FC03/FC04 reply. */
export function replyRegisters(frame: Buffer): number[] {
  return pdu.replyRegisters(RTU, frame);
}

/** The first `count` bits of a checked FC01/FC02 reply. */
export function replyBits(frame: Buffer, count: number): boolean[] {
  return pdu.replyBits(RTU, frame, count);
}
