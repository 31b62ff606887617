/**
 * While the broker cannot be reached, a plain TCP connect every PROBE_INTERVAL_MS tells when it
 * listens again, so the next MQTT attempt is made then instead of at the end of a backoff that
 * doubled through a long outage (reconnect_max, 60 s by default). A probe is a SYN answered by
 * a RST while the broker is down, and a connection closed at once when it is back: no MQTT
 * session, no CONNECT, nothing for a broker to log. It runs only after attempts that failed
 * before reaching the broker (refused, unreachable), never after a broker that answered and
 * said no, which would turn it into a fast retry loop.
 */
import net from 'node:net';

export const PROBE_INTERVAL_MS = 1_000;

/** Socket errors that mean the broker was not reached at all. */
const UNREACHED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EHOSTDOWN', 'EAI_AGAIN', 'ENOTFOUND']);

export function brokerUnreached(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && UNREACHED.has(code);
}

/**
 * Probes host:port every interval (±20 % jitter, so a fleet does not probe in step) until a
 * connection opens, then calls onUp once. Returns the function that stops it.
 */
export function probeBroker(host: string, port: number, onUp: () => void, intervalMs = PROBE_INTERVAL_MS): () => void {
  let stopped = false;
  let socket: net.Socket | null = null;
  let timer: NodeJS.Timeout | null = null;
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    socket?.destroy();
    socket = null;
  };
  const next = () => {
    if (!stopped) timer = setTimeout(attempt, Math.round(intervalMs * (0.8 + 0.4 * Math.random())));
  };
  const attempt = () => {
    const s = net.connect({ host, port });
    socket = s;
    // A host that drops SYNs answers nothing: give up on this probe when the next one is due.
    s.setTimeout(intervalMs, () => s.destroy());
    s.once('connect', () => {
      stop();
      onUp();
    });
    s.once('error', () => s.destroy());
    s.once('close', () => {
      if (socket === s) socket = null;
      next();
    });
  };
  next();
  return stop;
}
