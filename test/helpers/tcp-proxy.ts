/**
 * A TCP fault proxy on 127.0.0.1 (free port) in front of a target, for link failures a real
 * broker cannot produce on its own:
 * - pass: bytes flow both ways (new connections too).
 * - blackhole: every open connection, and every new one, silently drops all bytes both ways
 *   while both sockets stay open — a half-open link. A connection that was blackholed stays
 *   dead after pass() (its byte stream has holes); only new connections pass again.
 * - reset: every open connection is reset (RST), and new ones are reset on accept.
 * - latency(ms): new bytes are delayed by ms each way, order kept.
 */
import net from 'node:net';

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  dead: boolean;
}

type Mode = { kind: 'pass'; delayMs: number } | { kind: 'blackhole' } | { kind: 'reset' };

export interface TcpProxy {
  readonly port: number;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  pass(): void;
  blackhole(): void;
  reset(): void;
  latency(ms: number): void;
  close(): Promise<void>;
}

export async function startProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  const links = new Set<Link>();
  // Every socket still open, including the far ends of blackholed links that lost their peer.
  const sockets = new Set<net.Socket>();
  let mode: Mode = { kind: 'pass', delayMs: 0 };
  let accepted = 0;

  const relay = (link: Link, from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk) => {
      if (link.dead || mode.kind !== 'pass') return;
      if (mode.delayMs === 0) return void to.write(chunk);
      // Timers of equal delay fire in creation order, so chunks keep their order.
      setTimeout(() => { if (!link.dead && !to.destroyed) to.write(chunk); }, mode.delayMs);
    });
  };

  const server = net.createServer((client) => {
    accepted++;
    if (mode.kind === 'reset') return void client.resetAndDestroy();
    const upstream = net.connect(target.port, host);
    const link: Link = { client, upstream, dead: mode.kind === 'blackhole' };
    links.add(link);
    relay(link, client, upstream);
    relay(link, upstream, client);
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

  return {
    port,
    get connections() { return links.size; },
    get accepted() { return accepted; },
    pass() { mode = { kind: 'pass', delayMs: 0 }; },
    latency(ms: number) { mode = { kind: 'pass', delayMs: ms }; },
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
