/**
 * The receiving side in tests: an mqtt.js client that subscribes at QoS 1 and records every
 * message. It reconnects on its own (every 100 ms) and subscribes again after each connect,
 * because a broker restarted without persistence forgets subscriptions. With a `session` on a
 * persistent broker it also receives what was published while it was away.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface Received {
  readonly topic: string;
  /** Parsed JSON when the payload is JSON, else the raw text. */
  readonly payload: any;
  readonly raw: Buffer;
  readonly retain: boolean;
  /** Date.now() at arrival. */
  readonly arrivedAt: number;
}

export interface Subscriber {
  /** Everything received so far, in arrival order. */
  readonly messages: Received[];
  /** Resolves with the messages once pred(messages) holds; rejects after timeoutMs. */
  waitFor(pred: (messages: Received[]) => boolean, timeoutMs: number): Promise<Received[]>;
  /** Resolves once the client is connected and its subscription acknowledged. */
  subscribed(timeoutMs?: number): Promise<void>;
  clear(): void;
  close(): Promise<void>;
}

export interface SubscriberOptions extends Pick<IClientOptions, 'username' | 'password' | 'ca' | 'rejectUnauthorized'> {
  /** Topic filter; default '#'. */
  topic?: string;
  /** A client id with a persistent session (clean: false); default a clean, anonymous one. */
  session?: string;
}

export async function subscribe(url: string, opts: SubscriberOptions = {}): Promise<Subscriber> {
  const { topic = '#', session, ...connectOpts } = opts;
  const client: MqttClient = mqtt.connect(url, {
    ...connectOpts,
    protocolVersion: 4,
    ...(session ? { clientId: session, clean: false } : { clean: true }),
    reconnectPeriod: 100,
    connectTimeout: 5_000,
    resubscribe: false,
  });
  const messages: Received[] = [];
  const waiters = new Set<() => void>();
  let isSubscribed = false;
  const wake = () => { for (const w of [...waiters]) w(); };

  client.on('message', (t, raw, packet) => {
    messages.push({ topic: t, payload: parse(raw), raw, retain: packet.retain, arrivedAt: Date.now() });
    wake();
  });
  client.on('connect', () => {
    client.subscribe(topic, { qos: 1 }, (err) => {
      if (err) return;
      isSubscribed = true;
      wake();
    });
  });
  client.on('close', () => { isSubscribed = false; });
  client.on('error', () => { /* reconnects by itself; tests assert on what arrives */ });

  const until = <T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> =>
    new Promise((resolve, reject) => {
      const attempt = () => {
        const result = check();
        if (result === undefined) return;
        done();
        resolve(result);
      };
      const timer = setTimeout(() => { done(); reject(new Error(`subscriber: timed out after ${timeoutMs} ms waiting for ${what()}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); waiters.delete(attempt); };
      waiters.add(attempt);
      attempt();
    });

  const sub: Subscriber = {
    messages,
    waitFor: (pred, timeoutMs) =>
      until(() => (pred(messages) ? messages : undefined), timeoutMs, () => `a condition (${messages.length} messages so far)`),
    subscribed: (timeoutMs = 5_000) => until(() => (isSubscribed ? true : undefined), timeoutMs, () => `a subscription to ${topic}`).then(() => undefined),
    clear: () => { messages.length = 0; },
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
  await sub.subscribed();
  return sub;
}

function parse(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
