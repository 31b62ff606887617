/**
 * One TCP endpoint on 127.0.0.1 whose server can be replaced while clients keep the address: a
 * plain forwarder to a target port that switchTo() changes, dropping every connection open at the
 * time. A server "restarted with a new certificate" can so be started beforehand and take over at
 * once, instead of the outage lasting as long as a server's start-up.
 */
import net from 'node:net';

export interface SwitchableEndpoint {
  readonly port: number;
  /** New connections go to `port`; open ones are dropped (both ways), as a server restart would. */
  switchTo(port: number): void;
  close(): Promise<void>;
}

export async function startSwitchableEndpoint(targetPort: number): Promise<SwitchableEndpoint> {
  let target = targetPort;
  const sockets = new Set<net.Socket>();
  const keep = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    keep(client);
    keep(upstream);
    // One side closing or failing closes the other, like a direct connection would.
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    switchTo(port) {
      target = port;
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
