/**
 * A TCP fault proxy on 127.0.0.1 (free port) in front of a target, for link failures a real
 * broker or PLC cannot produce on its own:
 * - pass: bytes flow both ways (new connections too).
 * - blackhole: every open connection, and every new one, silently drops all bytes both ways
 *   while both sockets stay open — a half-open link. A connection that was blackholed stays
 *   dead after pass() (its byte stream has holes); only new connections pass again.
 * - reset: every open connection is reset (RST), and new ones are reset on accept.
 * - latency(ms): new bytes are delayed by ms each way, order kept.
 * - throttle(bytesPerSec): each direction of each connection carries at most that many bytes
 *   a second (0 lifts the limit); combines with latency.
 * - cutMidFrame(n): the next chunk to cross the proxy (either way, or the one direction asked
 *   for) is passed on up to its first n bytes only, then its connection is closed both ways:
 *   the receiver holds half a frame when the link dies. One-shot.
 * pass() lifts latency and throttle; a blackhole or reset lifts them too.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

/** upstream: client → target; downstream: target → client. */
export type Direction = 'upstream' | 'downstream';

interface Queued {
  chunk: Buffer;
  /** performance.now() before which it must not be written (latency). */
  readonly due: number;
  /** Close the link once this chunk is written (cutMidFrame). */
  readonly cut?: () => void;
}

/** One direction of one connection: a FIFO, so latency and throttle never reorder bytes. */
interface Pipe {
  readonly to: net.Socket;
  readonly queue: Queued[];
  timer: NodeJS.Timeout | null;
  /** performance.now() from which the throttle allows the next bytes. */
  free: number;
}

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  dead: boolean;
}

type Mode = { kind: 'pass'; delayMs: number; bytesPerSec: number } | { kind: 'blackhole' } | { kind: 'reset' };

interface Cut {
  readonly afterBytes: number;
  readonly direction: Direction | null;
  readonly done: () => void;
}

export interface TcpProxy {
  readonly port: number;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Date.now() when each of them was accepted, in order. */
  readonly acceptedAt: readonly number[];
  /** Connections ended by cutMidFrame since start. */
  readonly cuts: number;
  pass(): void;
  blackhole(): void;
  reset(): void;
  latency(ms: number): void;
  throttle(bytesPerSec: number): void;
  /** Resolves once a connection has been cut; a later call replaces one not yet carried out. */
  cutMidFrame(afterBytes: number, direction?: Direction): Promise<void>;
  close(): Promise<void>;
}

/** Throttled bytes go out in slices this far apart, so a slow link still trickles. */
const SLICE_MS = 20;

export async function startProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  const links = new Set<Link>();
  // Every socket still open, including the far ends of blackholed links that lost their peer.
  const sockets = new Set<net.Socket>();
  let mode: Mode = { kind: 'pass', delayMs: 0, bytesPerSec: 0 };
  let cut: Cut | null = null;
  let accepted = 0;
  const acceptedAt: number[] = [];
  let cuts = 0;

  const pump = (link: Link, pipe: Pipe) => {
    pipe.timer = null;
    const rate = mode.kind === 'pass' ? mode.bytesPerSec : 0;
    while (pipe.queue.length > 0) {
      if (link.dead || pipe.to.destroyed) {
        pipe.queue.length = 0;
        return;
      }
      const head = pipe.queue[0];
      const now = performance.now();
      const wait = Math.max(head.due, rate > 0 ? pipe.free : 0) - now;
      if (wait > 0) {
        pipe.timer = setTimeout(() => pump(link, pipe), Math.ceil(wait));
        return;
      }
      let part = head.chunk;
      if (rate > 0) {
        part = part.subarray(0, Math.max(1, Math.floor((rate * SLICE_MS) / 1000)));
        pipe.free = Math.max(pipe.free, now) + (part.length * 1000) / rate;
      }
      pipe.to.write(part);
      head.chunk = head.chunk.subarray(part.length);
      if (head.chunk.length > 0) continue;
      pipe.queue.shift();
      head.cut?.();
    }
  };

  const cutLink = (link: Link, from: net.Socket, to: net.Socket) => {
    link.dead = true;
    links.delete(link);
    cuts++;
    // The partial frame reaches the receiver, then its end of the stream; the sender's side just dies.
    to.end();
    from.destroy();
  };

  const relay = (link: Link, from: net.Socket, to: net.Socket, direction: Direction) => {
    const pipe: Pipe = { to, queue: [], timer: null, free: 0 };
    from.on('data', (chunk: Buffer) => {
      if (link.dead || mode.kind !== 'pass') return;
      const due = performance.now() + mode.delayMs;
      const armed = cut;
      if (armed && (armed.direction === null || armed.direction === direction)) {
        cut = null;
        pipe.queue.push({
          chunk: chunk.subarray(0, armed.afterBytes), due,
          cut: () => { cutLink(link, from, to); armed.done(); },
        });
      } else if (pipe.queue.length === 0 && mode.delayMs === 0 && mode.bytesPerSec === 0) {
        return void to.write(chunk);
      } else {
        pipe.queue.push({ chunk, due });
      }
      if (!pipe.timer) pump(link, pipe);
    });
    from.on('close', () => { if (pipe.timer) clearTimeout(pipe.timer); });
  };

  const server = net.createServer((client) => {
    accepted++;
    acceptedAt.push(Date.now());
    if (mode.kind === 'reset') return void client.resetAndDestroy();
    const upstream = net.connect(target.port, host);
    const link: Link = { client, upstream, dead: mode.kind === 'blackhole' };
    links.add(link);
    relay(link, client, upstream, 'upstream');
    relay(link, upstream, client, 'downstream');
    // One side closing or failing closes the other — unless the link is blackholed, where
    // nothing (not even a FIN) gets through.
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(a);
      a.on('error', () => {});
      a.on('close', () => {
        sockets.delete(a);
        links.delete(link);
        if (!link.dead) b.destroy();
      });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;

  const passWith = (delayMs: number, bytesPerSec: number) => {
    mode = { kind: 'pass', delayMs, bytesPerSec };
  };

  return {
    port,
    get connections() { return links.size; },
    get accepted() { return accepted; },
    acceptedAt,
    get cuts() { return cuts; },
    pass() { passWith(0, 0); },
    latency(ms: number) { passWith(ms, mode.kind === 'pass' ? mode.bytesPerSec : 0); },
    throttle(bytesPerSec: number) { passWith(mode.kind === 'pass' ? mode.delayMs : 0, bytesPerSec); },
    cutMidFrame(afterBytes: number, direction?: Direction) {
      return new Promise<void>((resolve) => { cut = { afterBytes, direction: direction ?? null, done: resolve }; });
    },
    blackhole() {
      mode = { kind: 'blackhole' };
      for (const link of links) link.dead = true;
    },
    reset() {
      mode = { kind: 'reset' };
      for (const link of [...links]) {
        links.delete(link);
        link.client.resetAndDestroy();
        link.upstream.resetAndDestroy();
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
