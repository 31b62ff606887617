/**
 * The audit's MQTT subscription: QoS 1 on a persistent session under a stable client id, so
 * that nothing published while the audit's own link is down is missed — the broker queues it
 * and hands it over on reconnect.
 *
 * MQTT 5 first: the first connection starts clean (a crashed earlier run may have left a
 * session whose queue is stale or was truncated by the broker, which would show as false gaps),
 * every reconnect resumes the session, and closing ends it (expiry 0) so nothing queues for an
 * audit that is gone. A broker without MQTT 5 gets 3.1.1 with clean: false, which cannot start
 * clean and keep the session at once: there a crashed earlier run's queue may arrive first.
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
  let closed = false;
  let lastComplaint = '';

  const open = (v: 4 | 5): MqttClient => {
    version = v;
    const c = mqtt.connect(opts.url, {
      clientId: opts.clientId,
      protocolVersion: v,
      clean: v === 5,
      ...(v === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
      resubscribe: false,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
    });
    c.on('message', (topic, payload) => opts.onMessage(topic, payload));
    c.on('connect', (connack: IConnackPacket) => {
      if (everConnected && !connack.sessionPresent) {
        opts.onNote('reconnected, but the broker lost our session: messages published meanwhile will show as gaps');
      }
      everConnected = true;
      // From now on resume the session instead of starting a new one.
      c.options.clean = false;
      if (subscribed && connack.sessionPresent) return;
      subscribed = false;
      c.subscribe([...topics], { qos: 1 }, (e) => {
        // A SUBACK refusal (not authorised) has a reason code; a lost connection does not, and
        // the next connect subscribes again.
        if (e && typeof (e as Error & { code?: unknown }).code === 'number') return opts.onRefused(`subscription to ${topics.join(', ')} refused: ${e.message}`);
        if (e) return;
        subscribed = true;
        opts.onNote(`subscribed to ${topics.join(', ')} at QoS 1${v === 4 ? ' (MQTT 3.1.1)' : ''}`);
      });
    });
    c.on('error', (e: Error & { code?: unknown }) => {
      // A CONNACK refusal carries a numeric reason code and mqtt.js does not retry it;
      // anything else (refused socket, timeout) is retried.
      if (typeof e.code !== 'number') {
        if (e.message !== lastComplaint) opts.onNote(`${e.message} (retrying)`);
        lastComplaint = e.message;
      } else if (v === 5 && !everConnected && WRONG_VERSION.has(e.code)) {
        c.end(true);
        if (!closed) client = open(4);
      } else {
        opts.onRefused(e.message);
      }
    });
    return c;
  };
  client = open(5);

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
