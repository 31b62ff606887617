/**
 * Modbus TCP transport: our own socket, our own MBAP framing around the PDUs shared with RTU
 * (pdu.ts), one request at a time (the driver serialises them).
 *
 * A reply is matched to its request by transaction id; one with another id (a late reply to a
 * request that timed out) is ignored. A matched reply is checked against the request (unit id,
 * function code, byte count, write echo) before it is decoded.
 *
 * The byte stream is checked frame by frame. Nothing in it marks where a frame starts, so once
 * it stops looking like Modbus TCP (a protocol id other than 0, a length outside 3–254: another
 * service on the port, a device that lost its place) or a frame is still incomplete when its
 * request times out, the connection is dropped and the scheduler reconnects on a clean stream.
 * A socket that closes or fails fails the request in flight at once. A device that closes a
 * connection it has answered on is marked closedAfterReplies, so the driver opens a new one.
 *
 * Not modbus-serial's client: it loads serialport and its native bindings even for TCP, and its
 * TcpPort trusts every MBAP header (a frame claiming 16,000 bytes swallows every later reply) and
 * leaves the pending request waiting for its timeout when the socket closes.
 */
import net from 'node:net';
import { LinkLostError, ModbusRequestError, type BitArea, type ModbusLink, type RegisterArea } from './link.js';
import {
  readRequest, replyBits, replyProblem, replyRegisters, writeCoilRequest, writeRegisterRequest, writeRegistersRequest,
  type Framing, type ModbusRequest, type ReplyProblem,
} from './pdu.js';

export interface TcpTarget {
  readonly host: string;
  readonly port: number;
  readonly unit_id: number;
  /** ms: connect and per-request limit. */
  readonly timeout: number;
}

/** Transaction id, protocol id and length: the MBAP header up to the unit id. */
const MBAP_HEADER = 6;
const MBAP: Framing = { head: MBAP_HEADER, tail: 0 };
/** Unit id + function + exception code: the shortest valid PDU the length field can count. */
const MIN_LENGTH = 3;
/** Unit id + the 253-byte maximum PDU. */
const MAX_LENGTH = 254;

/**
 * Requests in a row that time out with not one frame received meanwhile, after which the
 * connection is presumed half-open (a firewall or NAT that lost its state, a PLC that came
 * back without telling): its socket would never report an error, so a new one is made.
 */
const SILENT_TIMEOUTS = 3;

const EMPTY = Buffer.alloc(0);

interface InFlight {
  readonly request: ModbusRequest;
  readonly tid: number;
  readonly resolve: (reply: Buffer) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
  /** A frame with another transaction id arrived meanwhile. */
  ignoredReply: boolean;
}

/** What the driver is told about a reply that does not answer its request. */
function requestError(problem: ReplyProblem): ModbusRequestError {
  if (problem.kind === 'exception') return new ModbusRequestError('exception', problem.message, problem.code);
  return new ModbusRequestError('malformed', problem.kind === 'malformed' ? `malformed reply: ${problem.message}` : problem.message);
}

/** One connected Modbus TCP unit as a ModbusLink. */
export class TcpLink implements ModbusLink {
  private lost: string | undefined;
  private socketError: Error | undefined;
  /** Bytes received and not yet framed: the start of the next frame. */
  private rx: Buffer = EMPTY;
  private tid = 0;
  private inflight: InFlight | undefined;
  /** Timeouts in a row with no frame received at all. */
  private silentTimeouts = 0;
  /** A reply to one of our requests has arrived on this connection. */
  private answered = false;
  private closedByDevice = false;

  constructor(private readonly socket: net.Socket, private readonly unit: number, private readonly timeoutMs: number) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => { this.socketError = err; });
    socket.on('close', () => {
      this.closedByDevice = this.lost === undefined;
      this.markLost(this.socketError ? `socket error (${this.socketError.message})` : 'connection closed by the device');
    });
  }

  get lostReason(): string | undefined {
    return this.lost;
  }

  get closedAfterReplies(): boolean {
    return this.closedByDevice && this.answered;
  }

  async readRegisters(area: RegisterArea, start: number, count: number): Promise<ArrayLike<number>> {
    return replyRegisters(MBAP, await this.exchange(readRequest(MBAP, this.unit, area === 'holding' ? 3 : 4, start, count)));
  }

  async readBits(area: BitArea, start: number, count: number): Promise<ArrayLike<boolean>> {
    return replyBits(MBAP, await this.exchange(readRequest(MBAP, this.unit, area === 'coil' ? 1 : 2, start, count)), count);
  }

  async writeRegisters(address: number, values: readonly number[]): Promise<void> {
    await this.exchange(values.length === 1
      ? writeRegisterRequest(MBAP, this.unit, address, values[0])
      : writeRegistersRequest(MBAP, this.unit, address, values));
  }

  async writeCoil(address: number, on: boolean): Promise<void> {
    await this.exchange(writeCoilRequest(MBAP, this.unit, address, on));
  }

  async close(): Promise<void> {
    this.markLost('connection closed');
  }

  /** Declares the connection dead, now: the request in flight fails at once, every later one without touching the wire. */
  private markLost(reason: string): void {
    if (this.lost !== undefined) return;
    this.lost = reason;
    this.rx = EMPTY;
    this.settle(new LinkLostError(reason));
    this.socket.destroy();
  }

  /** Sends `request`; resolves with its reply frame once that passed the checks. */
  private exchange(request: ModbusRequest): Promise<Buffer> {
    if (this.lost !== undefined) return Promise.reject(new LinkLostError(this.lost));
    const tid = this.tid = (this.tid + 1) & 0xffff;
    const { frame } = request;
    frame.writeUInt16BE(tid, 0);
    frame.writeUInt16BE(0, 2);
    frame.writeUInt16BE(frame.length - MBAP_HEADER, 4);
    return new Promise((resolve, reject) => {
      this.inflight = { request, tid, resolve, reject, timer: setTimeout(this.expire, this.timeoutMs), ignoredReply: false };
      this.socket.write(frame);
    });
  }

  private settle(outcome: Buffer | Error): void {
    const inflight = this.inflight;
    if (inflight === undefined) return;
    this.inflight = undefined;
    clearTimeout(inflight.timer);
    if (outcome instanceof Error) inflight.reject(outcome);
    else inflight.resolve(outcome);
  }

  private onData(chunk: Buffer): void {
    let rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk]);
    while (rx.length >= MBAP_HEADER) {
      const protocol = rx.readUInt16BE(2);
      const length = rx.readUInt16BE(4);
      if (protocol !== 0 || length < MIN_LENGTH || length > MAX_LENGTH) {
        this.markLost(
          `the device sent a frame that is not Modbus TCP (protocol id 0x${protocol.toString(16).padStart(4, '0')}, ` +
          `length ${length}); connection dropped to resynchronise`,
        );
        return;
      }
      const end = MBAP_HEADER + length;
      if (rx.length < end) break;
      this.onFrame(rx.length === end ? rx : rx.subarray(0, end));
      rx = rx.length === end ? EMPTY : rx.subarray(end);
    }
    this.rx = rx;
  }

  private onFrame(frame: Buffer): void {
    // Any frame at all shows that the connection is not half-open.
    this.silentTimeouts = 0;
    const inflight = this.inflight;
    if (inflight === undefined) return;
    if (frame.readUInt16BE(0) !== inflight.tid) {
      inflight.ignoredReply = true;
      return;
    }
    this.answered = true;
    const problem = replyProblem(MBAP, inflight.request, frame);
    this.settle(problem === undefined ? frame : requestError(problem));
  }

  private readonly expire = (): void => {
    const timeout = `timeout after ${this.timeoutMs} ms`;
    if (this.rx.length > 0) {
      this.settle(new ModbusRequestError('timeout', `${timeout} (the device sent an incomplete frame)`));
      this.markLost('the device sent an incomplete frame; connection dropped to resynchronise');
    } else if (this.inflight?.ignoredReply) {
      this.settle(new ModbusRequestError('timeout', `${timeout} (a reply with a non-matching transaction id was ignored)`));
    } else {
      this.settle(new ModbusRequestError('timeout', timeout));
      if (++this.silentTimeouts >= SILENT_TIMEOUTS) {
        this.markLost(`no reply to ${SILENT_TIMEOUTS} requests in a row; connection dropped in case it is half-open`);
      }
    }
  };
}

function connectSocket(target: TcpTarget, signal: AbortSignal): Promise<net.Socket> {
  const where = `${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const socket = new net.Socket();
    const fail = (reason: string): void => {
      cleanup();
      socket.destroy();
      reject(new Error(`cannot connect to ${where}: ${reason}`));
    };
    const onError = (err: NodeJS.ErrnoException): void => fail(err.code ?? err.message);
    const onAbort = (): void => fail('aborted');
    const timer = setTimeout(() => fail(`no answer within ${target.timeout} ms`), target.timeout);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    if (signal.aborted) {
      fail('aborted');
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.connect({ host: target.host, port: target.port }, () => {
      cleanup();
      resolve(socket);
    });
  });
}

/** Connects to one Modbus TCP unit; rejects with an Error saying why it could not. */
export async function openTcpLink(target: TcpTarget, signal: AbortSignal): Promise<TcpLink> {
  const socket = await connectSocket(target, signal);
  socket.setNoDelay(true);
  // Notice a peer that vanished without a FIN (cable pulled, PLC power-cycled) while idle.
  socket.setKeepAlive(true, 10_000);
  return new TcpLink(socket, target.unit_id, target.timeout);
}
