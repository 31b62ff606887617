/**
 * The receiving side of the smoke: MQTT 3.1.1 with clean: false under a client id of its own, at
 * QoS 1, so that the broker queues what arrives while this link is down — also across the
 * broker's restart, which mosquitto (2.0.11 here) survives for such a session through its
 * persistence file. It did not for the MQTT 5 session with an expiry interval that
 * src/audit/subscription.ts opens: that one came back without its session, and the backlog
 * published before it subscribed again showed as a false gap.
 */
import mqtt from 'mqtt';

export interface SessionSubscriber {
  readonly subscribed: boolean;
  /** The broker came back without our session: messages may have been missed meanwhile. */
  readonly sessionLost: boolean;
  close(): Promise<void>;
}

export function subscribeKeepingSession(
  url: string, clientId: string, topic: string, onMessage: (topic: string, payload: Buffer) => void,
): SessionSubscriber {
  const client = mqtt.connect(url, { clientId, clean: false, protocolVersion: 4, reconnectPeriod: 200, connectTimeout: 5_000 });
  let subscribed = false;
  let sessionLost = false;
  client.on('connect', (connack) => {
    if (subscribed && connack.sessionPresent) return;
    if (subscribed) sessionLost = true;
    client.subscribe(topic, { qos: 1 }, (err) => { if (!err) subscribed = true; });
  });
  client.on('message', (t, payload) => onMessage(t, payload));
  // It reconnects by itself; what arrives is what the smoke judges.
  client.on('error', () => undefined);
  return {
    get subscribed() { return subscribed; },
    get sessionLost() { return sessionLost; },
    close: () => new Promise<void>((resolve) => { client.end(true, {}, () => resolve()); }),
  };
}
