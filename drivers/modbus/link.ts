/**
 * A link: one open connection to one Modbus unit, one request at a time, every failure sorted
 * into what the driver must do about it.
 *
 * The driver (driver.ts) speaks only to ModbusLink, so the same exception splitting, quarantine
 * and plan learning serve Modbus TCP and RTU. Both frame their own requests around the same
 * PDUs (pdu.ts): TCP with an MBAP header on its own socket (tcp-link.ts), RTU with a CRC on a
 * shared serial line (rtu-link.ts).
 */

export type RegisterArea = 'holding' | 'input';
export type BitArea = 'coil' | 'discrete';

export interface ModbusLink {
  /** FC03 (holding) / FC04 (input). */
  readRegisters(area: RegisterArea, start: number, count: number): Promise<ArrayLike<number>>;
  /** FC01 (coil) / FC02 (discrete). */
  readBits(area: BitArea, start: number, count: number): Promise<ArrayLike<boolean>>;
  /** FC06 for one register, FC16 for more. */
  writeRegisters(address: number, values: readonly number[]): Promise<void>;
  /** FC05. */
  writeCoil(address: number, on: boolean): Promise<void>;
  /** Why the connection is gone, once it is. */
  readonly lostReason: string | undefined;
  /**
   * True once the device closed this connection after answering on it. Some PLCs and gateways
   * close after every reply: that asks for a new connection, not for the device to be reported down.
   */
  readonly closedAfterReplies?: boolean;
  /**
   * Why the device is not to be asked now, or undefined. RTU: a unit that stopped answering is
   * left alone for a while, so the other units on its line keep their poll rate.
   */
  backedOff?(): string | undefined;
  close(): Promise<void>;
}

export type RequestErrorKind = 'exception' | 'timeout' | 'malformed';

/** The device answered badly or not at all; the connection itself is still usable. */
export class ModbusRequestError extends Error {
  constructor(
    readonly kind: RequestErrorKind,
    message: string,
    /** The exception code, for kind 'exception'. */
    readonly code?: number,
  ) {
    super(message);
    this.name = 'ModbusRequestError';
  }
}

/** The connection is gone: the driver's read() rejects and the scheduler reconnects. */
export class LinkLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinkLostError';
  }
}

const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export function exceptionMessage(code: number): string {
  return `exception ${code} (${EXCEPTION_NAMES[code] ?? 'unknown exception code'})`;
}
