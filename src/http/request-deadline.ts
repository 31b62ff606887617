/**
 * The listener's header deadline, kept per socket. Node enforces `headersTimeout` and
 * `requestTimeout` from a sweep on a fixed interval that runs whether or not anyone is connected:
 * at the one-second interval a slow-header flood needs, an idle gateway is woken every second for
 * nothing. Here a socket carries its own timer while it owes a request — from its connect, and
 * again after each response — so a listener nobody talks to sets none.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';

/** Closes a socket whose next request's headers are not in within `ms`. */
export function closeSlowRequests(server: http.Server, ms: number): void {
  const timers = new WeakMap<Socket, NodeJS.Timeout>();
  const arm = (socket: Socket) => {
    const timer = timers.get(socket);
    if (timer) timer.refresh();
    else timers.set(socket, setTimeout(() => socket.destroy(), ms).unref());
  };
  const disarm = (socket: Socket) => {
    clearTimeout(timers.get(socket));
    timers.delete(socket);
  };
  server.on('connection', (socket: Socket) => {
    arm(socket);
    socket.once('close', () => disarm(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    disarm(req.socket);
    // A request's body cannot trickle past this either: the next deadline starts at the answer.
    res.once('finish', () => {
      if (!req.socket.destroyed) arm(req.socket);
    });
  });
}
