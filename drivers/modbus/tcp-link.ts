/**
 * Modbus TCP transport: our own socket, modbus-serial's ModbusRTU client linked onto it
 * (linkTCP), and a guard that watches the MBAP framing.
 *
 * Why we own the socket: modbus-serial's TcpPort neither rejects the pending request when the
 * socket closes (it waits for the transaction timeout) nor emits 'close' after a socket error,
 * and it trusts every MBAP header: a frame claiming 16,000 bytes leaves its receive buffer
 * waiting forever, so every later reply on that connection is swallowed. The guard sees each
 * chunk before modbus-serial does and drops the connection the moment the stream stops looking
 * like Modbus TCP; the scheduler then reconnects on a clean stream.
 */
import net from 'node:net';
import modbusSerial from 'modbus-serial';
import { ClientLink, type FrameStats } from './link.js';

export interface TcpTarget {
  readonly host: string;
  readonly port: number;
  readonly unit_id: number;
  /** ms: connect and per-request limit. */
  readonly timeout: number;
}

const MBAP_HEADER = 6;
/** Unit id + function + exception code: the shortest valid PDU the length field can count. */
const MIN_LENGTH = 3;
/** Unit id + the 253-byte maximum PDU. */
const MAX_LENGTH = 254;

/** Mirrors TcpPort's framing exactly, so both always agree where a frame starts. */
class MbapGuard implements FrameStats {
  private pending: Buffer = Buffer.alloc(0);
  private frames = 0;

  constructor(private readonly onGarbage: (reason: string) => void) {}

  framesReceived(): number {
    return this.frames;
  }

  midFrame(): boolean {
    return this.pending.length > 0;
  }

  onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= MBAP_HEADER) {
      const protocol = this.pending.readUInt16BE(2);
      const length = this.pending.readUInt16BE(4);
      if (protocol !== 0 || length < MIN_LENGTH || length > MAX_LENGTH) {
        this.pending = Buffer.alloc(0);
        this.onGarbage(
          `the device sent a frame that is not Modbus TCP (protocol id 0x${protocol.toString(16).padStart(4, '0')}, ` +
          `length ${length}); connection dropped to resynchronise`,
        );
        return;
      }
      if (this.pending.length < MBAP_HEADER + length) return;
      this.pending = this.pending.subarray(MBAP_HEADER + length);
      this.frames++;
    }
  }
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
export async function openTcpLink(target: TcpTarget, signal: AbortSignal): Promise<ClientLink> {
  const socket = await connectSocket(target, signal);
  socket.setNoDelay(true);
  // Notice a peer that vanished without a FIN (cable pulled, PLC power-cycled) while idle.
  socket.setKeepAlive(true, 10_000);

  let link: ClientLink | undefined;
  let lastError: Error | undefined;
  let earlyLoss: string | undefined;
  const guard = new MbapGuard((reason) => {
    if (link) {
      link.markLost(reason);
    } else {
      earlyLoss = reason;
      socket.destroy();
    }
  });
  // Registered before linkTCP so the guard sees every chunk before modbus-serial parses it.
  socket.on('data', (chunk: Buffer) => guard.onData(chunk));
  socket.on('error', (err) => { lastError = err; });
  socket.on('close', () => {
    link?.markLost(lastError ? `socket error (${lastError.message})` : 'connection closed by the device');
  });

  const client = new modbusSerial.default();
  // The port is only recorded: the socket is already connected.
  await client.linkTCP(socket, { port: target.port });
  client.setID(target.unit_id);
  // Set after linkTCP: before it, modbus-serial would also arm an idle timeout on the socket.
  client.setTimeout(target.timeout);
  link = new ClientLink(client, target.timeout, guard);
  if (socket.destroyed) link.markLost(earlyLoss ?? 'connection closed by the device');
  return link;
}
