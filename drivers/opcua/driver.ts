/**
 * The OPC UA driver: one secure channel, one session and (for subscribe-mode tags) one
 * subscription per device, behind the Driver contract.
 *
 * - read(): batched Read requests (split at the server's MaxNodesPerRead) for poll-mode tags,
 *   and for any tag when `floorgate probe` asks. A node the server does not know is that tag's
 *   bad reading (BadNodeIdUnknown); the others carry on.
 * - subscribe(): the subscription of subscription.ts; its readings arrive through emit.
 * - write(): a Write of the Value attribute, encoded in the node's own data type (learnt once per
 *   node and session, node-shape.ts) from the engineering value (write-values.ts).
 * - Recovery (machine.ts): with a subscription the driver repairs the link itself — new
 *   channel, reactivate the session, else a new session and TransferSubscriptions, else a new
 *   subscription; then Republish what the server still holds, retry failed items and read the
 *   current values. Meanwhile every subscribed tag is bad and read() answers bad readings.
 *   Without a subscription there is nothing worth keeping: read() rejects and the scheduler's
 *   reconnect loop takes over (close(), backoff, connect()).
 *
 * Beside it: server-facts.ts holds what a session learns of the server (limits, namespaces, node
 * ids, node shapes); tuning.ts the timeouts and node-opcua's globals, shared with browse.ts.
 * Over 400 lines because connect, read, subscribe, write and recovery all act on one session and
 * its link state; split, each piece would need all of it.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { AttributeIds, type NodeId, type OPCUAClient } from 'node-opcua-client';
import type { Driver, DriverContext, PollGroup, Reading, Unsubscribe } from '../../src/driver/contract.js';
import type { OpcuaDevice, OpcuaTag } from './schema.js';
import { Backoff, sleep } from '../../src/backoff.js';
import {
  answered, dropChannel, explain as errorText, openChannel, openSession, reactivate, readValues, statusName, writeValue,
  type ChannelSettings, type RawSession,
} from './channel.js';
import { RECOVERING, transition, type LinkEvent, type LinkState } from './machine.js';
import { Pki } from './pki.js';
import { isDeprecated } from './security.js';
import { readShape } from './node-shape.js';
import { ServerFacts } from './server-facts.js';
import { PushSubscription, SubscriptionGone } from './subscription.js';
import { adaptLibrary, defaultTuning, type OpcuaTuning } from './tuning.js';
import { NodeWatch } from './node-watch.js';
import { qualityOf } from './values.js';
import { toVariant } from './write-values.js';

export type { OpcuaTuning } from './tuning.js';

const FAILURES: ReadonlySet<LinkEvent> = new Set(['failed', 'lost', 'lost_subscribed', 'channel_failed', 'session_failed']);
/** Timeouts in a row after which a read counts as a dead link rather than a slow server. */
const TIMEOUTS_BEFORE_LOST = 3;
const SESSION_GONE = new Set(['BadSessionIdInvalid', 'BadSessionClosed', 'BadSessionNotActivated']);
const TRANSPORT_ERROR = /closed|timed? ?out|no answer within|ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|socket|BadConnection|BadSecureChannel|BadCommunication|BadTimeout|BadRequestTimeout|BadServerNotConnected|Invalid Channel|not connected/i;

export async function createOpcuaDriver(device: OpcuaDevice, ctx: DriverContext, tuning: Partial<OpcuaTuning> = {}): Promise<OpcuaDriver> {
  adaptLibrary(ctx.log);
  if (device.security_mode !== 'None' && isDeprecated(device.security_policy)) {
    ctx.log.warn({ security_policy: device.security_policy },
      `opcua security policy ${device.security_policy} is deprecated (SHA-1, withdrawn by the OPC Foundation): move the server to Basic256Sha256 or newer when you can`);
  }
  return new OpcuaDriver(device, ctx, { ...defaultTuning(device), ...tuning });
}

export class OpcuaDriver implements Driver<OpcuaTag> {
  private link: LinkState = 'idle';
  private pki: Pki | undefined;
  private client: OPCUAClient | undefined;
  private session: RawSession | undefined;
  private sub: PushSubscription | undefined;
  private emitPush: (readings: Reading[]) => void = () => {};
  /** Set when the current client's channel closed under us. */
  private channelBroken = false;
  /** Why the link is not ready. */
  private cause = 'not connected';
  /** The error every tag carries while the link is recovering (one outage, one error). */
  private outage = '';
  private lastLoggedCause = '';
  private recovery: AbortController | undefined;
  private readonly backoff: Backoff;
  private timeouts = 0;
  private readonly server: ServerFacts;
  private readonly watch: NodeWatch;
  private readonly log: Logger;

  constructor(readonly device: OpcuaDevice, private readonly ctx: DriverContext, readonly tuning: OpcuaTuning) {
    this.log = ctx.log;
    this.backoff = new Backoff(tuning.reconnectMinMs, tuning.reconnectMaxMs);
    this.server = new ServerFacts(device, ctx.countRequest);
    // A node whose type changed is written in its new type: learn its shape again.
    this.watch = new NodeWatch(this.log, (tag) => this.server.shapes.delete(tag.node_id));
  }

  /** The link's state, for tests and diagnostics. */
  get state(): LinkState {
    return this.link;
  }

  async connect(signal: AbortSignal): Promise<void> {
    if (this.link !== 'idle') await this.close();
    this.fire('connect');
    try {
      this.pki = await Pki.open(path.resolve(this.ctx.dataDir, this.device.pki_dir));
      this.attach(await openChannel(this.settings(), signal));
      this.session = await openSession(this.client!, this.device);
      await this.server.learn(this.session);
    } catch (err) {
      this.cause = errorText(err);
      await this.teardown();
      this.fire('failed');
      throw new Error(this.cause);
    }
    this.timeouts = 0;
    this.cause = '';
    this.fire('connected');
  }

  async read(group: PollGroup<OpcuaTag>, _signal: AbortSignal): Promise<Reading[]> {
    const tags = group.tags as readonly OpcuaTag[];
    if (this.link === 'ready') {
      try {
        const readings = await this.readTags(tags);
        this.timeouts = 0;
        return readings;
      } catch (err) {
        const status = statusName(err);
        if (answered(err) && !(status && SESSION_GONE.has(status))) return bad(tags, status ?? errorText(err));
        const timedOut = /timed? ?out/i.test(errorText(err)) && !this.channelBroken;
        if (timedOut && ++this.timeouts < TIMEOUTS_BEFORE_LOST) {
          return bad(tags, `BadTimeout: no answer within ${this.device.timeout} ms`);
        }
        this.lost(status ?? errorText(err));
      }
    }
    if (RECOVERING.has(this.link)) return bad(tags, this.outage);
    throw new Error(`connection lost: ${this.cause}`);
  }

  async subscribe(tags: readonly OpcuaTag[], emit: (readings: Reading[]) => void): Promise<Unsubscribe> {
    if (this.link !== 'ready' || !this.session) throw new Error(`cannot subscribe: ${this.cause || this.link}`);
    const session = this.session;
    // One subscription per device: a second subscribe() replaces the first.
    await this.sub?.delete(session);
    this.sub = undefined;
    const sub = new PushSubscription({
      tags: tags as readonly OpcuaTag[],
      emit,
      log: this.log,
      tuning: this.tuning,
      timeout: this.device.timeout,
      resolve: (tag) => this.server.resolve(tag),
      maxItemsPerCall: () => this.server.limits.itemsPerCall,
      readingOf: (tag, value, now) => this.watch.reading(tag, value, now),
      onLost: (cause) => this.lost(cause),
      countRequest: this.ctx.countRequest,
    });
    try {
      await sub.create(session);
    } catch (err) {
      await sub.delete(session);
      throw new Error(`subscription not created: ${statusName(err) ?? errorText(err)}`);
    }
    this.sub = sub;
    this.emitPush = emit;
    sub.start(session);
    this.log.info({ subscription: sub.id, items: tags.length, silence_ms: sub.silenceMs }, 'opcua subscription created');
    return async () => {
      if (this.sub !== sub) return;
      this.sub = undefined;
      await sub.delete(this.link === 'ready' ? this.session : undefined);
    };
  }

  /**
   * Writes the Value attribute. A value that does not fit the node's type is refused with a
   * TypeError/RangeError before anything is sent; the server's refusal rejects with its status
   * name (BadNotWritable, BadUserAccessDenied, …); a link that is down rejects at once.
   */
  async write(t: OpcuaTag, value: unknown, signal: AbortSignal): Promise<void> {
    if (!t.writable) throw new Error(`tag ${t.name} is not writable (it needs writable: true)`);
    signal.throwIfAborted();
    const session = this.session;
    if (this.link !== 'ready' || !session) throw new Error(`write to ${t.name} failed: ${this.downReason()}`);
    const nodeId = this.server.resolve(t);
    if (typeof nodeId === 'string') throw new Error(`write to ${t.name} failed: ${nodeId}`);
    let shape = this.server.shapes.get(t.node_id);
    if (!shape) {
      shape = await this.service(t, () => readShape(session, nodeId, this.device.timeout, () => this.ctx.countRequest()));
      this.server.shapes.set(t.node_id, shape);
    }
    const variant = toVariant(shape, value, t);
    this.ctx.countRequest();
    // A Write left unanswered may still have been carried out: the error says so.
    const status = await this.service(t, () => writeValue(session, nodeId, variant, this.device.timeout), ', the value may or may not have been written');
    if (qualityOf(status) !== 'bad') return;
    // The node may have been redefined (a PLC download): learn its type again next time.
    if (status.name === 'BadTypeMismatch') this.server.shapes.delete(t.node_id);
    throw new Error(`write to ${t.name} failed: ${status.name} (${status.description})`);
  }

  async close(): Promise<void> {
    this.recovery?.abort();
    this.recovery = undefined;
    this.sub?.stop();
    this.sub = undefined;
    this.fire('close');
    await this.teardown();
  }

  private settings(): ChannelSettings {
    return {
      device: this.device,
      pki: this.pki!,
      log: this.log,
      sessionTimeout: this.tuning.sessionTimeout,
      transportTimeout: this.tuning.transportTimeout,
      connectTimeout: this.tuning.connectTimeout,
    };
  }

  private fire(event: LinkEvent): void {
    const from = this.link;
    this.link = transition(from, event);
    if (from === this.link) return;
    const recovering = RECOVERING.has(this.link) || RECOVERING.has(from);
    const why = FAILURES.has(event) ? { cause: this.cause } : {};
    this.log[recovering ? 'info' : 'debug']({ from, to: this.link, event, ...why }, 'opcua link state');
  }

  /** Makes a fresh client the current one and listens for its channel dying. */
  private attach(client: OPCUAClient): void {
    this.client = client;
    this.channelBroken = false;
    client.on('close', (err?: Error | null) => {
      if (client !== this.client || !err) return;
      this.channelBroken = true;
      this.lost(`connection closed: ${err.message}`);
    });
  }

  /** The link stopped working. Subscribed: recover here. Poll only: wait for the scheduler. */
  private lost(cause: string): void {
    if (this.link !== 'ready') return;
    this.cause = cause;
    this.log.warn({ cause, recovering: this.sub !== undefined }, 'opcua link lost');
    if (!this.sub) {
      this.fire('lost');
      return;
    }
    this.fire('lost_subscribed');
    this.sub.stop();
    this.outage = `OPC UA link lost: ${cause}`;
    this.sub.markAllBad(this.outage);
    void this.recover();
  }

  /** Runs the recovery states until the link is ready again or the driver is closed. */
  private async recover(): Promise<void> {
    const abort = new AbortController();
    this.recovery = abort;
    let failures = 0;
    let transfers = 0;
    while (RECOVERING.has(this.link) && !abort.signal.aborted) {
      let event: LinkEvent;
      try {
        event = await this.step(this.link, failures, transfers, abort.signal);
      } catch (err) {
        event = this.channelBroken || TRANSPORT_ERROR.test(errorText(err)) ? 'channel_failed' : 'session_failed';
        this.cause = errorText(err);
      }
      if (abort.signal.aborted) return;
      if (event === 'channel_failed' || event === 'session_failed') {
        failures++;
        if (this.cause !== this.lastLoggedCause) {
          this.log.warn({ cause: this.cause, state: this.link }, 'opcua recovery step failed, retrying');
          // A server that answers and refuses (say, a replaced certificate) moves /healthz to that
          // reason; a link that is merely still down (refused, timed out) keeps the outage's first
          // one, so that one outage logs one `device down`.
          if (!TRANSPORT_ERROR.test(this.cause)) {
            this.outage = `OPC UA link lost: ${this.cause}`;
            this.sub?.markAllBad(this.outage);
          }
        }
        this.lastLoggedCause = this.cause;
      }
      if (event === 'transferred') transfers++;
      this.fire(event);
    }
    if (this.link !== 'ready' || !this.sub || !this.session) return;
    this.recovery = undefined;
    this.cause = '';
    this.lastLoggedCause = '';
    this.backoff.reset();
    this.sub.start(this.session);
    this.log.info({ subscription: this.sub.id, failed_items: this.sub.failedItems }, 'opcua link recovered');
  }

  /** One recovery state's action; resolves with the event it ends in. */
  private async step(state: LinkState, failures: number, transfers: number, signal: AbortSignal): Promise<LinkEvent> {
    const sub = this.sub;
    switch (state) {
      case 'reconnecting': {
        if (failures > 0) await sleep(this.backoff.next(), signal);
        const old = this.client;
        this.client = undefined;
        await dropChannel(old);
        const client = await openChannel(this.settings(), signal);
        if (signal.aborted) {
          await dropChannel(client);
          return 'channel_failed';
        }
        this.attach(client);
        return 'channel_open';
      }
      case 'reactivating': {
        if (!this.session) return 'session_gone';
        try {
          await reactivate(this.client!, this.session);
          return 'reactivated';
        } catch (err) {
          if (this.channelBroken) throw err;
          this.log.info({ reason: statusName(err) ?? errorText(err) }, 'opcua session could not be reactivated, creating a new one');
          this.session = undefined;
          return 'session_gone';
        }
      }
      case 'new_session':
        this.session = await openSession(this.client!, this.device);
        await this.server.learn(this.session);
        return 'session_created';
      case 'transferring':
        if (!sub || sub.id === 0 || transfers > 0) return 'transfer_failed';
        try {
          return (await sub.transfer(this.session!)) ? 'transferred' : 'transfer_failed';
        } catch (err) {
          if (this.channelBroken) throw err;
          // Even a transfer whose answer was lost ends well: recreating deletes the old id first.
          return 'transfer_failed';
        }
      case 'recreating':
        await sub?.create(this.session!);
        return 'recreated';
      case 'republishing':
        try {
          await sub?.republishPending(this.session!);
          return 'republished';
        } catch (err) {
          if (err instanceof SubscriptionGone) return 'subscription_gone';
          throw err;
        }
      case 'repairing_items':
        await sub?.repairItems(this.session!);
        return 'items_checked';
      case 'resyncing':
        // After a reactivation the server only reports changes: read what the tags are now.
        if (sub) this.emitPush(await this.readTags(sub.tags));
        return 'resynced';
      default:
        throw new Error(`no recovery action in state ${state}`);
    }
  }

  private downReason(): string {
    if (RECOVERING.has(this.link)) return `OPC UA link down (${this.cause}), recovering`;
    return this.link === 'broken' ? `connection lost: ${this.cause}` : 'not connected';
  }

  /** One service call of a write, its failure in words; a session the server forgot is a lost link. */
  private async service<T>(tag: OpcuaTag, call: () => Promise<T>, afterTimeout = ''): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const status = statusName(err);
      if (status && SESSION_GONE.has(status)) this.lost(status);
      const why = /timed? ?out/i.test(errorText(err)) ? `BadTimeout: no answer within ${this.device.timeout} ms${afterTimeout}` : errorText(err);
      throw new Error(`write to ${tag.name} failed: ${why}`);
    }
  }

  /** One reading per tag, read in as few Read requests as the server allows. */
  private async readTags(tags: readonly OpcuaTag[]): Promise<Reading[]> {
    const now = Date.now();
    const out = new Map<string, Reading>();
    const readable: Array<{ tag: OpcuaTag; nodeId: NodeId }> = [];
    for (const tag of tags) {
      const nodeId = this.server.resolve(tag);
      if (typeof nodeId === 'string') out.set(tag.name, { tag: tag.name, value: null, quality: 'bad', ts: now, error: nodeId });
      else readable.push({ tag, nodeId });
    }
    const limit = this.server.limits.nodesPerRead || readable.length;
    for (let i = 0; i < readable.length; i += limit) {
      const chunk = readable.slice(i, i + limit);
      this.ctx.countRequest();
      const values = await readValues(this.session!, chunk.map((r) => ({ nodeId: r.nodeId, attributeId: AttributeIds.Value })), this.device.timeout);
      const at = Date.now();
      chunk.forEach((r, k) => out.set(r.tag.name, this.watch.reading(r.tag, values[k], at)));
    }
    return tags.map((t) => out.get(t.name)!);
  }

  /** Closes the session (deleting its subscription) if the channel still works, then the channel. */
  private async teardown(): Promise<void> {
    const { client, session, pki } = this;
    this.client = undefined;
    this.session = undefined;
    this.pki = undefined;
    if (session && client && !this.channelBroken) {
      // Bounded: a server that stopped answering must not hold up a shutdown.
      await Promise.race([session.close(true).catch(() => {}), sleep(Math.min(3000, 2 * this.device.timeout))]);
    }
    await dropChannel(client);
    await pki?.release();
  }
}

function bad(tags: readonly OpcuaTag[], error: string): Reading[] {
  const ts = Date.now();
  return tags.map((t) => ({ tag: t.name, value: null, quality: 'bad', ts, error }));
}

