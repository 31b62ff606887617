/**
 * A lean Modbus TCP simulator for throughput runs: a raw `net` server that answers FC01–FC04
 * straight from a register image, with no timer per reply. modbus-serial's ServerTCP (behind
 * drivers/modbus/sim.ts) answers ~700 requests/s, so a gateway measured against it would
 * only measure the simulator.
 *
 * The image is static (values do not move): without a deadband every poll publishes every tag
 * anyway, so moving values would cost the simulator and change nothing the gateway does.
 * Holding registers hold float32 values (big-endian, ABCD) at even addresses, input registers
 * their own address, coils and discrete inputs the parity of their address. Any unit id is
 * answered; other function codes get exception 01.
 *
 * In process: startFastSim(). As its own process (so it can sit on another core than the
 * gateway): forkFastSim(), which runs this file with an IPC channel.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const REGISTERS = 65536;
const MAX_REGISTERS = 125;
const MAX_BITS = 2000;

export interface FastSim {
  readonly port: number;
  /** Requests answered so far, by function code. */
  requests(): Record<number, number>;
  close(): Promise<void>;
}

function image(): { holding: Buffer; input: Buffer; bits: Uint8Array } {
  const holding = Buffer.alloc(REGISTERS * 2);
  for (let a = 0; a + 1 < REGISTERS; a += 2) holding.writeFloatBE(20 + (a % 100) / 4, a * 2);
  const input = Buffer.alloc(REGISTERS * 2);
  for (let a = 0; a < REGISTERS; a++) input.writeUInt16BE(a, a * 2);
  const bits = new Uint8Array(REGISTERS);
  for (let a = 0; a < REGISTERS; a++) bits[a] = a & 1;
  return { holding, input, bits };
}

function exception(frame: Buffer, code: number): Buffer {
  const out = Buffer.allocUnsafe(9);
  frame.copy(out, 0, 0, 2);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(3, 4);
  out[6] = frame[6];
  out[7] = frame[7] | 0x80;
  out[8] = code;
  return out;
}

export function startFastSim(port = 0): Promise<FastSim> {
  const { holding, input, bits } = image();
  const counts: Record<number, number> = {};
  const sockets = new Set<net.Socket>();

  const answer = (frame: Buffer): Buffer => {
    const fc = frame[7];
    counts[fc] = (counts[fc] ?? 0) + 1;
    if (fc < 1 || fc > 4 || frame.length < 12) return exception(frame, 1);
    const start = frame.readUInt16BE(8);
    const count = frame.readUInt16BE(10);
    const isBits = fc <= 2;
    if (count < 1 || count > (isBits ? MAX_BITS : MAX_REGISTERS)) return exception(frame, 3);
    if (start + count > REGISTERS) return exception(frame, 2);
    const bytes = isBits ? Math.ceil(count / 8) : count * 2;
    const out = Buffer.allocUnsafe(9 + bytes);
    frame.copy(out, 0, 0, 2);
    out.writeUInt16BE(0, 2);
    out.writeUInt16BE(3 + bytes, 4);
    out[6] = frame[6];
    out[7] = fc;
    out[8] = bytes;
    if (isBits) {
      out.fill(0, 9);
      for (let i = 0; i < count; i++) if (bits[start + i]) out[9 + (i >> 3)] |= 1 << (i & 7);
    } else {
      (fc === 3 ? holding : input).copy(out, 9, start * 2, (start + count) * 2);
    }
    return out;
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      while (pending.length - at >= 8) {
        const total = 6 + pending.readUInt16BE(at + 4);
        if (pending.length - at < total) break;
        socket.write(answer(pending.subarray(at, at + total)));
        at += total;
      }
      pending = pending.subarray(at);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        requests: () => ({ ...counts }),
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

export interface ForkedSim {
  readonly port: number;
  readonly pid: number;
  requests(): Promise<Record<number, number>>;
  close(): Promise<void>;
}

/** The simulator in a child process; the caller may pin it to a core by its pid. */
export function forkFastSim(): Promise<ForkedSim> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the simulator exited (${code}) before listening`)));
    child.once('message', (msg) => {
      const { port } = msg as { port: number };
      resolve({
        port,
        pid: child.pid!,
        requests: () => new Promise((done) => {
          child.once('message', (m) => done((m as { counts: Record<number, number> }).counts));
          child.send('counts');
        }),
        close: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

if (process.argv.includes('--child') && process.send) {
  const sim = await startFastSim();
  process.on('message', () => process.send!({ counts: sim.requests() }));
  process.send({ port: sim.port });
  // The parent going away (even by SIGKILL) closes the channel: never outlive it.
  process.on('disconnect', () => process.exit(0));
}
