/** MQTT and socket failures in words an operator can act on, for the one log line per change. */

// MQTT 3.1.1 CONNACK return codes (and their MQTT 5 reason-code equivalents).
const REFUSALS: Readonly<Record<number, string>> = {
  1: 'broker refused the connection: unacceptable protocol version',
  2: 'broker refused the connection: client identifier rejected',
  3: 'broker refused the connection: server unavailable',
  4: 'broker refused the credentials: bad user name or password',
  // mosquitto answers a wrong password with 5, not 4.
  5: 'broker refused the credentials: bad user name or password, or not authorized to connect',
  0x84: 'broker refused the connection: unacceptable protocol version',
  0x85: 'broker refused the connection: client identifier rejected',
  0x86: 'broker refused the credentials: bad user name or password',
  0x87: 'broker refused the credentials: bad user name or password, or not authorized to connect',
  0x88: 'broker refused the connection: server unavailable',
};

/** True for a CONNACK refusal (the broker answered, and said no). */
export function isRefusal(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === 'number' && (err as { code: number }).code in REFUSALS;
}

export function why(err: unknown): string {
  if (isRefusal(err)) return REFUSALS[(err as { code: number }).code];
  const message = err instanceof Error ? err.message : String(err);
  if (message === 'Keepalive timeout') return 'no answer from the broker within the keep-alive time (link down or half-open)';
  return message;
}

/** The URL without credentials, for logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
