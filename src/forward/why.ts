/** MQTT and socket failures in words an operator can act on, for the one log line per change. */
import { errorText } from '../error-text.js';

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

const UNTRUSTED = 'set mqtt.tls.ca to the CA that signed the broker\'s certificate';

/** Node's TLS error codes that need a word on what to do. */
const TLS_HINTS: Readonly<Record<string, string>> = {
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED,
};

export function why(err: unknown): string {
  if (isRefusal(err)) return REFUSALS[(err as { code: number }).code];
  const code = (err as { code?: unknown })?.code;
  // OpenSSL's own text for this alert is a line of library internals.
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') {
    return 'the broker requires a client certificate: set mqtt.tls.cert and mqtt.tls.key';
  }
  const message = errorText(err);
  if (typeof code === 'string' && code in TLS_HINTS) return `${message} (${TLS_HINTS[code]})`;
  if (message === 'Keepalive timeout') return 'no answer from the broker within the keep-alive time (link down or half-open)';
  return message;
}

/** Hang-ups soon after CONNACK in a row before naming a second client: one can be a broker restart. */
const SHORT_HANG_UPS = 3;

/**
 * A broker hangs up on the older of two connections with one client id (MQTT 3.1.1 says no more
 * than that), so two gateways sharing an id take turns knocking each other off, each connection
 * ending about a reconnect delay after it began. Counts such hang-ups in a row and names the
 * likely cause once it is a pattern.
 */
export class ShortSessions {
  private inARow = 0;

  /** `withinMs`: how soon after CONNACK a hang-up counts as short (a few reconnect delays). */
  constructor(private readonly clientId: string, private readonly withinMs: number) {}

  /** The broker hung up a connection `lastedMs` after accepting it: what to add to the reason. */
  hungUp(lastedMs: number): string {
    this.inARow = lastedMs <= this.withinMs ? this.inARow + 1 : 0;
    if (this.inARow < SHORT_HANG_UPS) return '';
    return `; another client with this client id (mqtt.client_id "${this.clientId}") may be connected: the broker closed the last ${this.inARow} connections within ${this.withinMs / 1000} s of accepting them`;
  }
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
