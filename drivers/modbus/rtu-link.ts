/**
 * Modbus RTU transport: a ModbusLink for one unit on a shared serial line (rtu-bus.ts). The
 * driver, planner and codec are the Modbus TCP ones; only the bytes on the wire differ.
 *
 * Why our own RTU master rather than modbus-serial's: its RTU port (8.0.25) keeps one unit id
 * and one expected reply per port, so several units on one line would need a lock around every
 * call; it writes without waiting for the line to be silent or for the bytes to leave, and it
 * finds a reply by scanning the buffer for the unit id byte, so the tail of a garbled frame can
 * be taken for the next reply. Framing RTU ourselves is a page of code (rtu-frame.ts).
 *
 * A unit that stops answering costs its line one timeout per attempt, during which no other
 * unit can be asked. So after a timeout the unit is left alone for deadUnitMinMs, doubling with
 * each further timeout up to deadUnitMaxMs: its tags are reported bad without asking, the
 * other units keep their poll rate, and a unit that answers again is back at its next poll
 * after the pause (at most deadUnitMaxMs). Any well-framed reply from the unit ends the pause.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ModbusRtuDevice } from './schema.js';
import type { OpenLink } from './driver.js';
import { LinkLostError, ModbusRequestError, type BitArea, type ModbusLink, type RegisterArea } from './link.js';
import { acquireRtuBus, type RtuBus, type RtuBusOptions, type RtuOutcome } from './rtu-bus.js';
import { RtuErrorLog, type RtuErrorKind } from './rtu-errors.js';
import {
  readRequest, replyBits, replyProblem, replyRegisters, writeCoilRequest, writeRegisterRequest, writeRegistersRequest,
  type RtuRequest,
} from './rtu-frame.js';

/** The bus's options are the first device's on the line (rtu-bus.ts). */
export interface RtuUnitOptions extends RtuBusOptions {
  /** ms a unit is left alone after its first timeout; doubles with every further one. Default 1 s. */
  readonly deadUnitMinMs?: number;
  /** ms, the longest such pause. Default 30 s. */
  readonly deadUnitMaxMs?: number;
}

/**
 * One device's unit on its line, kept across reconnects for the life of the driver: the
 * failures counted so far and the dead-unit pause. open() is the driver's OpenLink.
 */
export class RtuUnit {
  readonly open: OpenLink;
  private readonly errors: RtuErrorLog;
  private readonly subject: string;
  private readonly minMs: number;
  private readonly maxMs: number;
  /** Timeouts in a row. */
  private misses = 0;
  private pauseMs = 0;
  private retryAt = 0;

  constructor(readonly device: ModbusRtuDevice, private readonly log: Logger, options: RtuUnitOptions = {}) {
    this.subject = `unit ${device.unit_id} on ${device.port}`;
    this.errors = new RtuErrorLog(log, this.subject, options.errorLogIntervalMs ?? 10_000);
    this.minMs = options.deadUnitMinMs ?? 1000;
    this.maxMs = options.deadUnitMaxMs ?? 30_000;
    this.open = async (signal) => new RtuLink(await acquireRtuBus(device, log, signal, options), this);
  }

  /** Failed exchanges of this unit since the driver was created, by kind. */
  failures(): Partial<Record<RtuErrorKind, number>> {
    return this.errors.counts();
  }

  /**
   * Why the unit is not asked now; undefined when it may be. The text changes only from one
   * attempt to the next: the scheduler logs every change of a device's error.
   */
  paused(): string | undefined {
    if (this.misses === 0 || performance.now() >= this.retryAt) return undefined;
    return `${this.subject} is not answering (timeout after ${this.device.timeout} ms); left alone for ${duration(this.pauseMs)} ` +
      'between attempts';
  }

  /** The reply frame to `request`, or the ModbusRequestError that the outcome amounts to. */
  judge(request: RtuRequest, outcome: RtuOutcome): Buffer {
    if (outcome.kind === 'timeout') {
      this.missed();
      throw this.failure('timeout', 'timeout', outcome.message);
    }
    if (outcome.kind !== 'frame') throw this.failure(outcome.kind, 'malformed', outcome.message);
    const { frame } = outcome;
    if (frame[0] === request.unit) this.answered();
    const problem = replyProblem(request, frame);
    if (problem === undefined) return frame;
    throw this.failure(problem.kind, problem.kind === 'exception' ? 'exception' : 'malformed', problem.message, problem.code);
  }

  private failure(kind: RtuErrorKind, as: ModbusRequestError['kind'], message: string, code?: number): ModbusRequestError {
    this.errors.note(kind, message);
    return new ModbusRequestError(as, message, code);
  }

  private missed(): void {
    this.misses++;
    this.pauseMs = this.misses === 1 ? this.minMs : Math.min(this.pauseMs * 2, this.maxMs);
    this.retryAt = performance.now() + this.pauseMs;
    if (this.misses === 1) {
      this.log.warn({ unit_id: this.device.unit_id, port: this.device.port, pause_ms: this.pauseMs },
        `${this.subject} does not answer; asked again in ${duration(this.pauseMs)}, then less often (up to every ` +
        `${duration(this.maxMs)}) so the other units on the line keep their poll rate`);
    }
  }

  private answered(): void {
    if (this.misses === 0) return;
    this.log.info({ unit_id: this.device.unit_id, port: this.device.port, after_timeouts: this.misses },
      `${this.subject} answers again`);
    this.misses = 0;
    this.retryAt = 0;
  }
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`;
}

class RtuLink implements ModbusLink {
  private closed = false;

  constructor(private readonly bus: RtuBus, private readonly unit: RtuUnit) {}

  get lostReason(): string | undefined {
    return this.closed ? 'connection closed' : this.bus.lostReason;
  }

  backedOff(): string | undefined {
    return this.unit.paused();
  }

  async readRegisters(area: RegisterArea, start: number, count: number): Promise<ArrayLike<number>> {
    return replyRegisters(await this.request(readRequest(this.id, area === 'holding' ? 3 : 4, start, count)));
  }

  async readBits(area: BitArea, start: number, count: number): Promise<ArrayLike<boolean>> {
    return replyBits(await this.request(readRequest(this.id, area === 'coil' ? 1 : 2, start, count)), count);
  }

  async writeRegisters(address: number, values: readonly number[]): Promise<void> {
    await this.request(values.length === 1
      ? writeRegisterRequest(this.id, address, values[0])
      : writeRegistersRequest(this.id, address, values));
  }

  async writeCoil(address: number, on: boolean): Promise<void> {
    await this.request(writeCoilRequest(this.id, address, on));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bus.cancel(this);
    this.bus.release();
  }

  private get id(): number {
    return this.unit.device.unit_id;
  }

  private async request(request: RtuRequest): Promise<Buffer> {
    const lost = this.lostReason;
    if (lost !== undefined) throw new LinkLostError(lost);
    const paused = this.unit.paused();
    if (paused !== undefined) throw new ModbusRequestError('timeout', paused);
    return this.unit.judge(request, await this.bus.transact(this, request.frame, this.unit.device.timeout));
  }
}
