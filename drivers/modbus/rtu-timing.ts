/**
 * Time on a Modbus RTU line, pure: bits per character, the silent interval, and what one read
 * costs on the wire. Shared by the bus (rtu-bus.ts), the simulator and `floorgate check --plan`
 * (line-load.ts), which must not load the serial port stack.
 */
import type { SerialLine } from '../../src/config/types.js';
import type { ModbusArea } from './schema.js';
import { isBitArea } from './planner.js';

/** Bits on the wire per character: start bit, data bits, parity bit, stop bits. */
export function bitsPerChar(line: SerialLine): number {
  return 1 + line.data_bits + (line.parity === 'none' ? 0 : 1) + line.stop_bits;
}

/** ms that `bytes` characters take on the line. */
export function charsMs(line: SerialLine, bytes: number): number {
  return (bytes * bitsPerChar(line) * 1000) / line.baud_rate;
}

/**
 * The silent interval between frames in ms: 3.5 characters, but a fixed 1.75 ms above 19200
 * baud, as the Modbus serial line specification (§2.5.1.1) recommends.
 */
export function silentIntervalMs(line: SerialLine): number {
  return line.baud_rate > 19200 ? 1.75 : charsMs(line, 3.5);
}

/**
 * Bytes of an FC01–FC04 read of `count` registers or bits: the request is unit, function,
 * start, count and CRC; the reply unit, function, byte count, the data and CRC.
 */
export function readFrameBytes(area: ModbusArea, count: number): { request: number; reply: number } {
  return { request: 8, reply: 5 + (isBitArea(area) ? Math.ceil(count / 8) : 2 * count) };
}

/** ms one read holds the line: its request and its reply, each after the silent interval. */
export function readExchangeMs(line: SerialLine, area: ModbusArea, count: number): number {
  const { request, reply } = readFrameBytes(area, count);
  return charsMs(line, request + reply) + 2 * silentIntervalMs(line);
}
