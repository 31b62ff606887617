import type { SerialLine } from '../config/types.js';

/**
 * e.g. "9600 8N1": line settings as a device's data sheet prints them. Kept apart from
 * open-port.ts so that showing them does not load serialport's native binding.
 */
export function lineSettings(line: SerialLine): string {
  return `${line.baud_rate} ${line.data_bits}${line.parity[0].toUpperCase()}${line.stop_bits}`;
}
