/**
 * A link: one open connection to one Modbus unit, one request at a time, every failure sorted
 * into what the driver must do about it.
 *
 * The driver (driver.ts) speaks only to ModbusLink, so the same exception splitting, quarantine
 * and plan learning serve Modbus TCP and RTU: TCP builds a modbus-serial client and hands it to
 * ClientLink (tcp-link.ts); RTU frames its own requests on a shared line (rtu-link.ts).
 */
import type modbusSerial from 'modbus-serial';

/** modbus-serial's client (its typings put the class on `.default`, which is also where it is at run time). */
export type ModbusClient = InstanceType<typeof modbusSerial.default>;

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

/** Where a link can look at the raw byte stream (TCP: the MBAP framing guard). */
export interface FrameStats {
  /** Complete frames received so far. */
  framesReceived(): number;
  /** Part of a frame is buffered: after a timeout the byte stream can no longer be trusted. */
  midFrame(): boolean;
}

interface ClientError {
  message?: unknown;
  errno?: unknown;
  modbusCode?: unknown;
}

/**
 * Requests in a row that time out with not one byte of a frame received meanwhile, after which
 * the connection is presumed half-open (a firewall or NAT that lost its state, a PLC that came
 * back without telling): its socket would never report an error, so a new one is made.
 */
const SILENT_TIMEOUTS = 3;

/** A modbus-serial client, already open, as a ModbusLink. */
export class ClientLink implements ModbusLink {
  private lost: string | undefined;
  /** Timeouts in a row with no frame received at all. */
  private silentTimeouts = 0;
  /** Rejecters of the requests in flight (at most one: the driver serialises them). */
  private readonly inflight = new Set<(err: Error) => void>();

  constructor(
    private readonly client: ModbusClient,
    private readonly timeoutMs: number,
    private readonly stats?: FrameStats,
  ) {}

  get lostReason(): string | undefined {
    return this.lost;
  }

  /**
   * Declare the connection dead, now: the request in flight fails at once (modbus-serial itself
   * would wait for its timeout) and every later one fails without touching the wire.
   */
  markLost(reason: string): void {
    if (this.lost !== undefined) return;
    this.lost = reason;
    for (const abandon of this.inflight) abandon(new LinkLostError(reason));
    this.inflight.clear();
    // destroy() also cancels modbus-serial's pending transaction timers.
    this.client.destroy(() => undefined);
  }

  async close(): Promise<void> {
    this.markLost('connection closed');
  }

  readRegisters(area: RegisterArea, start: number, count: number): Promise<ArrayLike<number>> {
    return this.request(async () => {
      const res = area === 'holding'
        ? await this.client.readHoldingRegisters(start, count)
        : await this.client.readInputRegisters(start, count);
      return res.data;
    });
  }

  readBits(area: BitArea, start: number, count: number): Promise<ArrayLike<boolean>> {
    return this.request(async () => {
      const res = area === 'coil'
        ? await this.client.readCoils(start, count)
        : await this.client.readDiscreteInputs(start, count);
      return res.data;
    });
  }

  writeRegisters(address: number, values: readonly number[]): Promise<void> {
    return this.request(async () => {
      if (values.length === 1) await this.client.writeRegister(address, values[0]);
      else await this.client.writeRegisters(address, [...values]);
    });
  }

  writeCoil(address: number, on: boolean): Promise<void> {
    return this.request(async () => {
      await this.client.writeCoil(address, on);
    });
  }

  private async request<T>(call: () => Promise<T>): Promise<T> {
    if (this.lost !== undefined) throw new LinkLostError(this.lost);
    const framesBefore = this.stats?.framesReceived() ?? 0;
    // Not Promise.race with one long-lived "lost" promise: every race would leave a reaction on
    // it for the life of the connection, a leak of one closure per request.
    let abandon!: (err: Error) => void;
    const settled = new Promise<T>((resolve, reject) => {
      abandon = reject;
      call().then(resolve, reject);
    });
    this.inflight.add(abandon);
    try {
      const result = await settled;
      // A frame the guard rejected may still have been parsed by modbus-serial in the same tick.
      if (this.lost !== undefined) throw new LinkLostError(this.lost);
      this.silentTimeouts = 0;
      return result;
    } catch (err) {
      if (err instanceof LinkLostError) throw err;
      if (this.lost !== undefined) throw new LinkLostError(this.lost);
      throw this.classify(err as ClientError, framesBefore);
    } finally {
      this.inflight.delete(abandon);
    }
  }

  private classify(err: ClientError, framesBefore: number): Error {
    const heard = this.stats !== undefined && this.stats.framesReceived() > framesBefore;
    if (heard) this.silentTimeouts = 0;
    if (typeof err.modbusCode === 'number') {
      return new ModbusRequestError('exception', exceptionMessage(err.modbusCode), err.modbusCode);
    }
    const message = String(err.message ?? err);
    if (err.errno === 'ETIMEDOUT') {
      let detail = '';
      if (this.stats?.midFrame()) {
        detail = ' (the device sent an incomplete frame)';
        this.markLost('the device sent an incomplete frame; connection dropped to resynchronise');
      } else if (heard) {
        detail = ' (a reply with a non-matching transaction id was ignored)';
      } else if (this.stats && ++this.silentTimeouts >= SILENT_TIMEOUTS) {
        this.markLost(`no reply to ${SILENT_TIMEOUTS} requests in a row; connection dropped in case it is half-open`);
      }
      return new ModbusRequestError('timeout', `timeout after ${this.timeoutMs} ms${detail}`);
    }
    if (message === 'Port Not Open') {
      const reason = 'connection is not open';
      this.markLost(reason);
      return new LinkLostError(reason);
    }
    const unit = /expected address (\d+) got (\d+)/.exec(message);
    if (unit) return new ModbusRequestError('malformed', `reply from unit ${unit[2]}, expected unit ${unit[1]}`);
    const code = /expected code (\d+) got (\d+)/.exec(message);
    if (code) return new ModbusRequestError('malformed', `reply for function ${code[2]}, expected function ${code[1]}`);
    return new ModbusRequestError('malformed', `malformed reply: ${message}`);
  }
}
