/**
 * Publishes the buffer to the broker (reference §4 guarantees 2–3).
 *
 * Over 400 lines on purpose: the connection's lifecycle and the publish window share one Session
 * and its callbacks, so they stay together; what keeps state of its own is beside it: lane.ts
 * (the backlog and live lanes), unanswered.ts (what the broker has not answered), suspects.ts
 * (naming and setting aside a refused message), client-options.ts, mqtt-connect.ts, broker-probe.ts.
 *
 * - A message is acknowledged to the store only in its publish callback without error:
 *   PUBACK (QoS 1), PUBCOMP (QoS 2), written (QoS 0). Nothing else ever removes one.
 * - One fresh mqtt.js client per connection attempt, reconnectPeriod 0, our own backoff:
 *   mqtt.js would otherwise replay its in-memory queue on reconnect, which is neither durable
 *   nor ordered with the store. On a disconnect everything in flight is forgotten (callbacks of
 *   an old connection are ignored) and the next connection starts at the oldest unacknowledged
 *   message, store.read(0, …).
 * - Two lanes per connection: seq ≤ the last committed seq at CONNACK is the backlog
 *   (historical), the rest is live. live_first: live messages go out as soon as they are
 *   committed; the backlog drains beside them, at most replay_rate msg/s, within a window that
 *   leaves a quarter of max_inflight to live data. in_order: the backlog first, then live,
 *   strictly in seq order. Both lanes together stay within max_inflight (and far below the
 *   65,535 message ids mqtt.js has).
 * - The format decides when data may flow on a connection (link.release()): JSON at once after
 *   its status, Sparkplug after its births, which may wait for the primary host. The lanes, and
 *   so the backlog boundary, are set at that moment. Beside the data, the format and the other
 *   session parts (write commands) subscribe, publish and hear messages through the same link.
 * - No poison message (reference §4.10): a broker that refuses a publish (over its size limit, not
 *   allowed) hangs up; MQTT 3.1.1 has no way to say which publish it refused. Neither the last
 *   one published (with a window in flight, later ones went out before the close was seen) nor
 *   the oldest seq (live_first publishes live messages before older backlog ones) need be it,
 *   and not even the first one left unanswered: mosquitto drops the answers it had queued for
 *   the packets it read in the same go as the refused one. So when the broker hangs up with
 *   data messages unanswered, those become suspects, and the next connections send them first,
 *   one at a time, each only once the broker has answered everything before it (a PINGREQ
 *   answers for QoS 0 births): a hang-up then names one message. The same message named
 *   SET_ASIDE_AFTER times in a row is set aside: acknowledged unsent, logged, counted as dropped
 *   (rejected_by_broker), a gap in seq upstream, and the rest flows on. Our own closes and a
 *   link that died (keep-alive, timeouts) are not the broker's answer and count for nothing.
 *   The price of a hang-up is one round trip per suspect (at most max_inflight) before live
 *   data flows again.
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { FloorgateConfig } from '../config/types.js';
import type { MessageStore } from '../buffer/types.js';
import type { Metrics } from '../metrics.js';
import { Backoff } from '../backoff.js';
import type { Link, OutgoingMessage, SessionPart, WireFormat } from './format.js';
import { Lane } from './lane.js';
import { brokerUnreached, probeBroker, PROBE_INTERVAL_MS } from './broker-probe.js';
import { clientOptions } from './client-options.js';
import { brokerAddress, connectMqtt } from './mqtt-connect.js';
import { RateLimit } from './rate-limit.js';
import { Suspects } from './suspects.js';
import { Unanswered, type Sent } from './unanswered.js';
import { isRefusal, safeUrl, ShortSessions, why } from './why.js';

export interface ForwarderOptions {
  readonly config: FloorgateConfig;
  readonly store: MessageStore;
  readonly log: Logger;
  readonly metrics?: Metrics;
  /** The wire format of mqtt.format (formats.ts builds it). */
  readonly format: WireFormat;
  /** Further parts living on each connection (write commands). */
  readonly parts?: readonly SessionPart[];
}

export interface ForwarderState {
  readonly connected: boolean;
  /** Epoch ms when the current state (connected or not) began; null before start(). */
  readonly since: number | null;
  /** Why the last attempt failed or the last connection was lost; kept after a reconnect. */
  readonly lastError: string | null;
  /** Data messages published and not yet acknowledged. */
  readonly inflight: number;
  /** Messages of the backlog not yet acknowledged (everything buffered while disconnected). */
  readonly backlogRemaining: number;
}

/** Message ids are 16 bits; keep clear of them whatever max_inflight says. */
const MAX_WINDOW = 60_000;
/** How long stop() waits for the broker to take the offline status and the DISCONNECT. */
const STOP_TIMEOUT_MS = 3_000;
/** How a broker that hangs up shows in Node: a clean close (no error) or these. */
const HANG_UP_CODES: ReadonlySet<unknown> = new Set(['ECONNRESET', 'EPIPE']);
/** A hang-up this soon after CONNACK (or within three reconnect_min) counts as short (why.ts). */
const SHORT_SESSION_MIN_MS = 10_000;

/** What one connection knows; replaced wholesale on reconnect so nothing leaks across. */
interface Session {
  readonly client: MqttClient;
  /** Set once the format released data on this connection. */
  lanes: Lanes | null;
  /** Set once a publish failed: the connection is being torn down. */
  closing: boolean;
  /** What the broker has not answered yet; null at QoS 0, where it answers nothing. */
  readonly unanswered: Unanswered | null;
  /** Suspects go out one at a time before anything else (see the top of this file). */
  careful: boolean;
  /** The suspect out alone, until the broker acknowledges it. */
  alone: Sent | null;
}

interface Lanes {
  readonly backlog: Lane;
  readonly live: Lane;
  /** Backlog size at release, for state().backlogRemaining. */
  readonly backlogAtRelease: number;
  backlogAcked: number;
}

export class Forwarder {
  private readonly config: FloorgateConfig;
  private readonly store: MessageStore;
  private readonly log: Logger;
  private readonly metrics?: Metrics;
  private readonly format: WireFormat;
  /** The format first, then the other parts: what opens first speaks first. */
  private readonly parts: readonly SessionPart[];
  private readonly url: string;
  private readonly window: number;
  /** live_first: the most the backlog may occupy, so live data always finds a free slot. */
  private readonly backlogWindow: number;
  private readonly inOrder: boolean;
  private readonly publishOpts: IClientPublishOptions;
  private readonly backoff: Backoff;
  private readonly rate: RateLimit | null;
  private readonly suspects: Suspects;
  private readonly shortSessions: ShortSessions;

  private started = false;
  private stopping = false;
  /** The client of the current attempt or connection. */
  private client: MqttClient | null = null;
  private session: Session | null = null;
  private lastCommitted = 0;
  private inflight = 0;
  private pumping = false;
  /** A pump() at the end of this turn of the event loop (see pumpSoon). */
  private pumpImmediate: NodeJS.Immediate | undefined;
  private since: number | null = null;
  private lastError: string | null = null;
  /** The failure last logged, so a broker that stays down is one line, not one per attempt. */
  private lastLogged: string | null = null;
  /** The error mqtt.js reported for the current client before it closed. */
  private attemptError: string | null = null;
  /** The current attempt ended in a CONNACK refusal (logged as an error, not a warning). */
  private refused = false;
  /** The current attempt never reached the broker (refused, unreachable): probe while waiting. */
  private unreached = false;
  /** The current connection failed on its own (keep-alive, timeout): the broker did not hang up. */
  private linkFailed = false;
  private stopProbe: (() => void) | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private rateTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(opts: ForwarderOptions) {
    this.config = opts.config;
    this.store = opts.store;
    this.log = opts.log;
    this.metrics = opts.metrics;
    const mqttConfig = opts.config.mqtt;
    this.format = opts.format;
    this.parts = [this.format, ...(opts.parts ?? [])];
    this.url = safeUrl(mqttConfig.url);
    this.window = Math.max(1, Math.min(mqttConfig.max_inflight, MAX_WINDOW));
    this.backlogWindow = Math.max(1, this.window - Math.floor(this.window / 4));
    this.inOrder = opts.config.buffer.replay === 'in_order';
    this.publishOpts = { qos: mqttConfig.qos, retain: false };
    this.backoff = new Backoff(mqttConfig.reconnect_min, mqttConfig.reconnect_max);
    this.rate = opts.config.buffer.replay_rate > 0 ? new RateLimit(opts.config.buffer.replay_rate) : null;
    this.suspects = new Suspects({ store: opts.store, log: opts.log, metrics: opts.metrics, qos: mqttConfig.qos });
    this.shortSessions = new ShortSessions(mqttConfig.client_id, Math.max(SHORT_SESSION_MIN_MS, 3 * mqttConfig.reconnect_min));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.since = Date.now();
    this.lastCommitted = this.store.stats().last_seq;
    this.unsubscribe = this.store.onCommit((lastSeq) => {
      this.lastCommitted = lastSeq;
      this.pump();
    });
    if (this.config.mqtt.tls?.insecure) {
      this.log.warn('mqtt.tls.insecure: the broker\'s certificate is NOT verified; anyone on the path can read and inject data');
    }
    this.connect();
  }

  /**
   * Intentional stop: no more publishing, the retained offline status, a clean DISCONNECT (so
   * the broker drops the will). Bounded: resolves within a few seconds even if the broker is gone.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.stopping = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.clearTimers();
    const client = this.client;
    const wasConnected = this.session !== null;
    if (client && wasConnected) {
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      // QoS 1 acks come back in order, so the offline status's PUBACK also means the data
      // published before it was acknowledged (and handed to the store) — fewer redeliveries.
      await withTimeout(Promise.all(this.format.offline().map((m) => publishAsync(client, m))), deadline - Date.now());
      await withTimeout(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), deadline - Date.now());
    }
    client?.end(true);
    this.client = null;
    if (wasConnected) this.log.info(`disconnected from ${this.url} (stopped)`);
    this.endSession();
  }

  state(): ForwarderState {
    const s = this.session;
    const lanes = s?.lanes;
    let backlogRemaining: number;
    if (!lanes) backlogRemaining = this.started ? this.store.stats().messages : 0;
    else if (lanes.backlog.drained && lanes.backlog.inflight === 0) backlogRemaining = 0;
    else backlogRemaining = Math.max(0, lanes.backlogAtRelease - lanes.backlogAcked);
    return {
      connected: s !== null,
      since: this.since,
      lastError: this.lastError,
      inflight: this.inflight,
      backlogRemaining,
    };
  }

  private connect(): void {
    // Whichever came first, the backoff or the probe, the other one is done.
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.stopProbe?.();
    this.stopProbe = null;
    this.attemptError = null;
    this.unreached = false;
    this.linkFailed = false;
    let client: MqttClient;
    try {
      client = connectMqtt(this.config.mqtt.url, clientOptions(this.config.mqtt, this.format.will()));
    } catch (err) {
      // Unreadable TLS files and the like: the same backoff as a broker that is down.
      this.attemptFailed(why(err), false);
      return;
    }
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('error', (err) => {
      if (client !== this.client) return;
      this.attemptError = why(err);
      if (isRefusal(err)) this.refused = true;
      if (brokerUnreached(err)) this.unreached = true;
      if (!HANG_UP_CODES.has((err as { code?: unknown }).code)) this.linkFailed = true;
    });
    client.on('packetsend', (packet) => {
      // Ours (careful sending) and mqtt.js's keep-alive pings alike: each answers in turn.
      if (packet.cmd === 'pingreq' && client === this.client) this.session?.unanswered?.ping();
    });
    client.on('packetreceive', (packet) => {
      const s = this.session;
      if (client !== this.client || !s?.unanswered) return;
      if ((packet.cmd === 'puback' || packet.cmd === 'pubrec') && packet.messageId !== undefined) s.unanswered.answered(packet.messageId);
      else if (packet.cmd === 'pingresp') s.unanswered.pong();
      else return;
      if (s.careful && !s.alone) this.pump();
    });
    client.on('close', () => this.onClose(client));
    client.on('message', (topic, payload, packet) => {
      if (client !== this.client || !this.session || this.session.closing) return;
      for (const part of this.parts) part.message?.(topic, payload, packet.retain);
    });
  }

  private onConnect(client: MqttClient): void {
    if (client !== this.client || this.stopping) return;
    this.backoff.reset();
    this.since = Date.now();
    this.lastLogged = null;
    this.log.info(`connected to ${this.url}`);
    this.metrics?.mqttConnected.set(1);
    const unanswered = this.config.mqtt.qos > 0 ? new Unanswered() : null;
    const session: Session = { client, lanes: null, closing: false, unanswered, careful: false, alone: null };
    this.session = session;
    const link = this.linkFor(session);
    for (const part of this.parts) part.open(link);
  }

  private linkFor(s: Session): Link {
    const live = () => s === this.session && !s.closing;
    return {
      publish: (m) => {
        if (!live()) return;
        s.client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain });
        s.unanswered?.add({ msg: null, topic: m.topic, payload: m.payload, id: m.qos > 0 ? s.client.getLastMessageId() : null });
      },
      subscribe: (filters) => {
        if (!live()) return;
        s.client.subscribe([...filters], { qos: 1 }, (err) => {
          // A refused subscription (not authorised) is a configuration problem: say so, keep publishing.
          if (err && live()) this.log.error({ err, filters }, `subscription to ${filters.join(', ')} failed: ${err.message}`);
        });
      },
      release: () => {
        if (!live() || s.lanes) return;
        // Everything committed so far is this connection's backlog, including what was in
        // flight on the previous one.
        const boundary = this.lastCommitted;
        s.lanes = {
          backlog: new Lane(this.store, true, 0, boundary),
          live: new Lane(this.store, false, boundary, Infinity),
          backlogAtRelease: this.store.stats().messages,
          backlogAcked: 0,
        };
        s.careful = this.suspects.any;
        this.pump();
      },
      close: (reason) => {
        if (!live()) return;
        s.closing = true;
        this.attemptError ??= reason;
        // DISCONNECT once what was published is on its way; a link that died meanwhile is
        // noticed by the keep-alive, and this bounds it further.
        const timer = setTimeout(() => s.client.stream?.destroy(), STOP_TIMEOUT_MS).unref();
        setImmediate(() => s.client.end(false, {}, () => clearTimeout(timer)));
      },
    };
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    this.client = null;
    const session = this.session;
    this.endSession();
    client.end(true);
    if (this.stopping) return;
    const reason = this.attemptError ?? (session ? 'the broker closed the connection' : 'the connection closed before the broker answered');
    this.attemptFailed(session ? reason + this.blame(session) : reason, session !== null);
  }

  /**
   * A connection ended: if the broker hung up (not our close, not a dead link), whom it hung up
   * on; or, naming no message, whether another client may be taking the client id over.
   */
  private blame(s: Session): string {
    if (s.closing || this.linkFailed) return '';
    const named = s.unanswered ? this.suspects.blame(s.unanswered, s.careful, s.alone) : '';
    return named || this.shortSessions.hungUp(Date.now() - (this.since ?? 0));
  }

  /** An attempt failed or a connection was lost: say so once, then retry after the backoff. */
  private attemptFailed(reason: string, wasConnected: boolean): void {
    this.lastError = reason;
    if (wasConnected) {
      this.since = Date.now();
      this.log.warn({ reason }, `connection to ${this.url} lost: ${reason}`);
    } else if (reason !== this.lastLogged) {
      // Refused credentials are a configuration problem, not a network blip.
      const level = this.refused ? 'error' : 'warn';
      this.log[level]({ reason }, `cannot connect to ${this.url}: ${reason}; buffering and retrying`);
    } else {
      this.log.debug({ reason }, `still cannot connect to ${this.url}`);
    }
    this.lastLogged = reason;
    this.refused = false;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    // A broker that was not even reached is probed meanwhile: live data resumes within about a
    // probe interval of its return, however long the backoff has grown (broker-probe.ts).
    const address = brokerAddress(this.config.mqtt.url);
    if (this.unreached && address && delay > PROBE_INTERVAL_MS) {
      this.stopProbe = probeBroker(address.host, address.port, () => {
        this.log.debug(`${this.url} accepts connections again; connecting now`);
        this.connect();
      });
    }
  }

  private endSession(): void {
    if (!this.session) return;
    this.metrics?.mqttConnected.set(0);
    this.session = null;
    this.inflight = 0;
    for (const part of this.parts) part.closed?.();
  }

  private clearTimers(): void {
    clearImmediate(this.pumpImmediate);
    this.pumpImmediate = undefined;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.stopProbe?.();
    this.reconnectTimer = null;
    this.rateTimer = null;
    this.stopProbe = null;
  }

  /**
   * The window is refilled once per turn of the event loop, not once per PUBACK: PUBACKs come
   * several to a TCP read, and mqtt.js hands them over one per tick, each tick flushing what was
   * written in it. Refilled after the last one, the publishes leave in one write; refilled after
   * each, one write each, and those syscalls were ~40 % of the client's CPU in a backlog drain.
   */
  private pumpSoon(): void {
    this.pumpImmediate ??= setImmediate(() => {
      this.pumpImmediate = undefined;
      this.pump();
    });
  }

  /** Fills the window from the lanes. Called on connect, after acks, on commit, on the rate timer. */
  private pump(): void {
    const s = this.session;
    if (!s?.lanes || s.closing || this.pumping || this.stopping) return;
    this.pumping = true;
    try {
      if (s.careful) this.sendAlone(s, s.lanes);
      while (!s.careful && this.inflight < this.window && !s.closing) {
        const lane = this.pick(s.lanes);
        if (!lane) break;
        this.send(s, s.lanes, lane);
      }
    } catch (err) {
      this.storeFailed(s, err);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The buffer failed under us (read or ack). Never crash the process for it: drop this
   * connection and let the next one, after the backoff, start over from the store.
   */
  private storeFailed(s: Session, err: unknown): void {
    if (s.closing) return;
    this.log.error({ err }, `buffer error: ${why(err)}`);
    this.drop(s, `buffer error: ${why(err)}`);
  }

  /** Ends a connection from inside its own callbacks. */
  private drop(s: Session, reason: string): void {
    s.closing = true;
    this.attemptError ??= reason;
    // Not synchronously: mqtt.js may be iterating its table of pending callbacks right now
    // (it fails them all when a connection ends), and ending again in there breaks it.
    setImmediate(() => s.client.end(true));
  }

  /** The lane to send from next, or null when nothing may go out now. */
  private pick(s: Lanes): Lane | null {
    const last = this.lastCommitted;
    if (this.inOrder) {
      // peek() finding nothing means the backlog is drained: live may follow at once.
      if (s.backlog.peek(last)) return this.mayReplay() ? s.backlog : null;
      return s.live.peek(last) ? s.live : null;
    }
    if (s.live.peek(last)) return s.live;
    if (s.backlog.inflight < this.backlogWindow && s.backlog.peek(last) && this.mayReplay()) return s.backlog;
    return null;
  }

  /** replay_rate: takes a token, or arranges to pump again when the next one is due. */
  private mayReplay(): boolean {
    if (!this.rate || this.rate.take()) return true;
    if (!this.rateTimer) {
      this.rateTimer = setTimeout(() => {
        this.rateTimer = null;
        this.pump();
      }, this.rate.wait());
    }
    return false;
  }

  /**
   * Careful sending: the next suspect, alone, once the broker has answered everything sent
   * before it; when none is left, the lanes take over.
   */
  private sendAlone(s: Session, lanes: Lanes): void {
    const unanswered = s.unanswered!;
    if (s.alone || s.closing) return;
    if (!unanswered.empty) {
      if (unanswered.waitsForPing) s.client.sendPing();
      return;
    }
    for (;;) {
      const seq = this.suspects.next();
      if (seq === undefined) {
        s.careful = false;
        return;
      }
      const [msg] = this.store.read(seq - 1, 1);
      // Gone meanwhile (acknowledged before the hang-up reached us, dropped by max_age).
      if (msg?.seq !== seq) {
        this.suspects.skip();
        continue;
      }
      const topic = this.format.topic(msg);
      const payload = this.format.payload(msg, true);
      if (payload === null) {
        this.store.ack(seq);
        this.suspects.skip();
        lanes.backlogAcked++;
        continue;
      }
      this.inflight++;
      s.client.publish(topic, payload, this.publishOpts, (err) => this.aloneDone(s, lanes, seq, err));
      s.alone = { msg, topic, payload, id: s.client.getLastMessageId() };
      unanswered.add(s.alone);
      return;
    }
  }

  /** The publish callback of a suspect sent alone: it is no suspect any more. */
  private aloneDone(s: Session, lanes: Lanes, seq: number, err: Error | undefined): void {
    if (s !== this.session || s.closing) return;
    this.inflight--;
    if (err) return this.drop(s, `publish failed: ${err.message}`);
    try {
      this.store.ack(seq);
    } catch (e) {
      return this.storeFailed(s, e);
    }
    lanes.backlogAcked++;
    this.metrics?.published.inc();
    this.suspects.acknowledged(seq);
    s.alone = null;
    this.pump();
  }

  private send(s: Session, lanes: Lanes, lane: Lane): void {
    const msg = lane.take();
    const seq = msg.seq;
    const topic = this.format.topic(msg);
    // The format may publish what must precede this message (a device's birth) on the way.
    const payload = this.format.payload(msg, lane.historical);
    if (payload === null) {
      this.store.ack(seq);
      if (lane.historical) lanes.backlogAcked++;
      return;
    }
    lane.inflight++;
    this.inflight++;
    s.client.publish(topic, payload, this.publishOpts, (err) => {
      // A callback from a connection that is gone: its message will be sent again anyway.
      if (s !== this.session || s.closing) return;
      lane.inflight--;
      this.inflight--;
      if (err) {
        // mqtt.js fails publishes when the connection is going down (then the reason arrives
        // as an 'error' event and wins), or refused this one: either way start over from the
        // store on a new connection rather than leave a hole behind the window.
        return this.drop(s, `publish failed: ${err.message}`);
      }
      try {
        this.store.ack(seq);
      } catch (e) {
        return this.storeFailed(s, e);
      }
      if (lane.historical) lanes.backlogAcked++;
      this.suspects.tookData = true;
      this.metrics?.published.inc();
      this.pumpSoon();
    });
    // Published synchronously once connected (mqtt.js queues only while replaying its own store,
    // which is empty on a fresh client), so the last packet id is this message's.
    s.unanswered?.add({ msg, topic, payload, id: s.client.getLastMessageId() });
  }
}

function publishAsync(client: MqttClient, m: OutgoingMessage): Promise<void> {
  return new Promise((resolve) => client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, () => resolve()));
}

/** Resolves when p settles or after ms, whichever comes first. */
function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms));
    p.then(() => { clearTimeout(timer); resolve(); }, () => { clearTimeout(timer); resolve(); });
  });
}
