/**
 * The audit's MQTT subscription: QoS 1 on a persistent session under a stable client id, so
 * that nothing published while the audit's own link is down is missed — the broker queues it
 * and hands it over on reconnect, also across a broker restart when the broker persists
 * sessions (mosquitto: `persistence true`).
 *
 * Starting clean and keeping the session are two connections: a first one with Clean Start
 * (clean: true in 3.1.1) and no session expiry discards whatever a crashed earlier run left (a
 * stale or truncated queue would show as false gaps), then the real one never starts clean
 * (Clean Start 0, session expiry SESSION_EXPIRY_S). One connection with Clean Start and an
 * expiry would do in MQTT 5, but mosquitto (2.0.11 at least) persists only sessions whose
 * connection came without Clean Start: a broker restart would lose exactly the first one.
 * Closing ends the session (expiry 0, or unsubscribing in 3.1.1) so nothing queues for an audit
 * that is gone. MQTT 5 first; a broker without it gets 3.1.1.
 *
 * When the link drops after the subscription was in place, onLost says so; onRestored, once
 * subscribed again, says whether the broker resumed the session (CONNACK session present) or
 * what was published meanwhile is lost to the audit.
 */
import mqtt, { type IConnackPacket, type MqttClient } from 'mqtt';

export interface SubscriptionOptions {
  readonly url: string;
  readonly clientId: string;
  readonly topics: readonly string[];
  onMessage(topic: string, payload: Buffer): void;
  /** Something the operator should know: retrying, subscribed, session lost, protocol fallback. */
  onNote(text: string): void;
  /** The broker refused the connection or the subscription: the audit cannot do its job. */
  onRefused(reason: string): void;
  /** The link went down (at, epoch ms) after the subscription was in place. */
  onLost(at: number): void;
  /** Subscribed again after onLost; sessionResumed: the broker delivers what it kept meanwhile. */
  onRestored(at: number, sessionResumed: boolean): void;
}

export interface Subscription {
  readonly connected: boolean;
  readonly subscribed: boolean;
  /** The broker accepted a connection at least once. */
  readonly everConnected: boolean;
  /** Ends the subscription and, where the protocol allows, the session on the broker. */
  close(): Promise<void>;
}

// The broker keeps the session (and queues for it) this long across our own outages.
const SESSION_EXPIRY_S = 3_600;
const CLOSE_TIMEOUT_MS = 2_000;
// MQTT 5 "unsupported protocol version" (132), or a 3.1.1 broker's "unacceptable protocol version" (1).
const WRONG_VERSION = new Set([1, 132]);

export function openSubscription(opts: SubscriptionOptions): Subscription {
  const { topics } = opts;
  let client: MqttClient;
  let version: 4 | 5;
  let everConnected = false;
  let subscribed = false;
  /** The link went down after subscribing, and onRestored has not followed yet. */
  let down = false;
  let closed = false;
  let lastComplaint = '';

  const connect = (v: 4 | 5, discard: boolean): MqttClient => {
    version = v;
    const c = mqtt.connect(opts.url, {
      clientId: opts.clientId,
      protocolVersion: v,
      clean: discard,
      // Absent, MQTT 5's session expiry is 0: the discarding connection's session ends with it.
      ...(v === 5 && !discard ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
      resubscribe: false,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
    });
    c.on('error', (e: Error & { code?: unknown }) => {
      // A CONNACK refusal carries a numeric reason code and mqtt.js does not retry it;
      // anything else (refused socket, timeout) is retried.
      if (typeof e.code !== 'number') {
        if (e.message !== lastComplaint) opts.onNote(`${e.message} (retrying)`);
        lastComplaint = e.message;
      } else if (v === 5 && !everConnected && WRONG_VERSION.has(e.code)) {
        c.end(true);
        if (!closed) client = connect(4, true);
      } else {
        opts.onRefused(e.message);
      }
    });
    if (discard) {
      c.once('connect', () => {
        everConnected = true;
        c.end(false, () => {
          if (!closed) client = connect(v, false);
        });
      });
      return c;
    }
    c.on('message', (topic, payload) => opts.onMessage(topic, payload));
    c.on('close', () => {
      if (!subscribed || down || closed) return;
      down = true;
      opts.onLost(Date.now());
    });
    c.on('connect', (connack: IConnackPacket) => {
      if (subscribed && connack.sessionPresent) {
        down = false;
        opts.onRestored(Date.now(), true);
        return;
      }
      subscribed = false;
      c.subscribe([...topics], { qos: 1 }, (e) => {
        // A SUBACK refusal (not authorised) has a reason code; a lost connection does not, and
        // the next connect subscribes again.
        if (e && typeof (e as Error & { code?: unknown }).code === 'number') return opts.onRefused(`subscription to ${topics.join(', ')} refused: ${e.message}`);
        if (e) return;
        subscribed = true;
        if (down) {
          down = false;
          opts.onRestored(Date.now(), false);
        } else {
          opts.onNote(`subscribed to ${topics.join(', ')} at QoS 1${v === 4 ? ' (MQTT 3.1.1)' : ''}`);
        }
      });
    });
    return c;
  };
  client = connect(5, true);

  return {
    get connected() { return client.connected; },
    get subscribed() { return subscribed; },
    get everConnected() { return everConnected; },
    async close() {
      closed = true;
      if (version === 4 && client.connected) {
        // 3.1.1 cannot end a kept session on the way out; without subscriptions it queues nothing.
        await settle(client.unsubscribeAsync([...topics]));
      }
      await settle(new Promise<void>((resolve) => {
        client.end(!client.connected, version === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}, () => resolve());
      }));
      // A half-open link never confirms the close.
      client.stream?.destroy();
    },
  };
}

/** Waits for p, at most CLOSE_TIMEOUT_MS; closing must not hang on a dead link. */
async function settle(p: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.catch(() => undefined),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_TIMEOUT_MS); }),
  ]);
  clearTimeout(timer);
}
