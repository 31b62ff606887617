/**
 * Over 400 lines on purpose: creating the items, the publish loop and Republish share one
 * subscription's id, sequence numbers and loop epoch; split apart they would pass those around.
 *
 * One device's OPC UA subscription, driven with the raw services (CreateSubscription,
 * CreateMonitoredItems, Publish, Republish, TransferSubscriptions) rather than node-opcua's
 * ClientSubscription, so that every step of a recovery is the driver's decision and visible in
 * its state machine (machine.ts).
 *
 * - Publish loop: PUBLISH_IN_FLIGHT requests kept at the server; each carries the
 *   acknowledgements of the notifications already handed on. Sequence numbers are followed: a
 *   gap (a notification lost in transit) is filled with Republish before the newer one is used.
 * - Watchdog: besides the tags, the subscription monitors Server_ServerStatus_CurrentTime, which
 *   changes every second on any server; when no notification arrives for silenceMs the
 *   subscription is declared lost, because a half-open TCP link or a stalled server publishes
 *   nothing and says nothing.
 * - Items that fail (unknown node, access denied) make their tag bad with the status name and
 *   are retried on every recovery and every itemRetryMs; the rest carry on.
 */
import type { Logger } from 'pino';
import {
  AttributeIds, DataChangeFilter, DataChangeNotification, DataChangeTrigger, DeadbandType, MonitoringMode,
  PublishRequest, RepublishRequest, StatusChangeNotification, SubscriptionAcknowledgement, TimestampsToReturn, VariableIds,
  type CreateMonitoredItemsResponse, type DataValue, type NodeId, type NotificationMessage, type PublishResponse,
  type RepublishResponse, type DeleteSubscriptionsRequestOptions, type TransferSubscriptionsRequestOptions,
  type TransferSubscriptionsResponse,
} from 'node-opcua-client';
import type { OpcuaTag } from './schema.js';
import type { Reading } from '../../src/driver/contract.js';
import { statusName, type RawSession } from './channel.js';

export interface SubscriptionTuning {
  /** Watchdog: silence longer than max(periods × publishing interval, floor) means lost. */
  readonly silencePeriods: number;
  readonly silenceFloorMs: number;
  /** How often monitored items that failed are tried again. */
  readonly itemRetryMs: number;
  /** Asked of the server so the subscription outlives the session (and can be transferred). */
  readonly sessionTimeout: number;
}

export interface SubscriptionOptions {
  readonly tags: readonly OpcuaTag[];
  readonly emit: (readings: Reading[]) => void;
  readonly log: Logger;
  readonly tuning: SubscriptionTuning;
  /** ms, one service call's limit (the device's timeout). */
  readonly timeout: number;
  /** The node id of a tag in the current session, or why it has none. */
  readonly resolve: (tag: OpcuaTag) => NodeId | string;
  /** Most monitored items per CreateMonitoredItems call (0 = no limit). */
  readonly maxItemsPerCall: () => number;
  /** A notification's value as a reading (the driver's NodeWatch). */
  readonly readingOf: (tag: OpcuaTag, value: DataValue, now: number) => Reading;
  /** Called once when the subscription stops working; the driver starts its recovery. */
  readonly onLost: (cause: string) => void;
  readonly countRequest: (n?: number) => void;
}

interface Item {
  readonly handle: number;
  readonly tag: OpcuaTag;
  monitoredItemId?: number;
  /** Why the item is not monitored (a status name), if it is not. */
  error?: string;
  /** False once the server refused the deadband filter for this node: the scheduler's deadband still applies. */
  useFilter: boolean;
}

const PUBLISH_IN_FLIGHT = 2;
/** The server is asked for a keep-alive at least this often when nothing changes. */
const KEEPALIVE_TARGET_MS = 10_000;
const WATCHDOG_HANDLE = 0;
const FILTER_REFUSED = new Set(['BadFilterNotAllowed', 'BadMonitoredItemFilterUnsupported', 'BadDeadbandFilterInvalid']);
/** Statuses of a Publish or Republish that mean the subscription (or its session) is gone. */
const SUBSCRIPTION_GONE = new Set(['BadSubscriptionIdInvalid', 'BadNoSubscription']);

export class SubscriptionGone extends Error {}

export class PushSubscription {
  /** The server's id; 0 while none exists. */
  id = 0;
  private publishingInterval = 0;
  private keepAliveCount = 0;
  private readonly items: Item[];
  private watchdogItem = false;
  private lastSeq = 0;
  private acks: SubscriptionAcknowledgement[] = [];
  /** Bumped by every start/stop: answers to an older loop's requests are ignored. */
  private epoch = 0;
  private lastNotification = 0;
  private timers: NodeJS.Timeout[] = [];
  /**
   * Bad readings of items that could not be created, held back to travel with the next
   * notification: a batch of nothing but one wrong node id would make the whole device look down.
   */
  private held: Reading[] = [];
  private heldSince = 0;
  private processing: Promise<void> = Promise.resolve();

  constructor(private readonly o: SubscriptionOptions) {
    this.items = o.tags.map((tag, i) => ({ handle: i + 1, tag, useFilter: (tag.deadband ?? 0) > 0 }));
  }

  get tags(): readonly OpcuaTag[] {
    return this.o.tags;
  }

  /** The tags that are not monitored, with why. */
  get failedItems(): ReadonlyArray<{ tag: string; error: string }> {
    return this.items.filter((i) => i.error !== undefined).map((i) => ({ tag: i.tag.name, error: i.error! }));
  }

  /**
   * CreateSubscription and every monitored item (plus the watchdog's). A previous subscription
   * is deleted first, in case it reached this session after all (a transfer whose answer was lost).
   */
  async create(session: RawSession): Promise<void> {
    await this.deleteOnServer(session);
    const fastest = Math.min(...this.o.tags.map((t) => t.sampling_interval));
    const requestedPublishingInterval = Math.max(fastest, 50);
    const keepAlive = Math.max(1, Math.ceil(KEEPALIVE_TARGET_MS / requestedPublishingInterval));
    this.o.countRequest();
    const response = await session.createSubscription({
      requestedPublishingInterval,
      requestedMaxKeepAliveCount: keepAlive,
      // Outlive the session by a margin, so a session that timed out still finds it to transfer.
      requestedLifetimeCount: Math.max(3 * keepAlive, Math.ceil((2 * this.o.tuning.sessionTimeout) / requestedPublishingInterval)),
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 0,
    });
    this.id = response.subscriptionId;
    this.publishingInterval = response.revisedPublishingInterval;
    this.keepAliveCount = response.revisedMaxKeepAliveCount;
    this.lastSeq = 0;
    this.acks = [];
    for (const item of this.items) {
      item.monitoredItemId = undefined;
      item.error = undefined;
    }
    this.watchdogItem = await this.createWatchdogItem(session);
    await this.createItems(session, this.items);
  }

  /** TransferSubscriptions into a new session; false when the server no longer has it. */
  async transfer(session: RawSession): Promise<boolean> {
    this.o.countRequest();
    // The promise form (the typings list the callback form first, which returns void).
    const transfer = session.transferSubscriptions.bind(session) as (r: TransferSubscriptionsRequestOptions) => Promise<TransferSubscriptionsResponse>;
    const response = await transfer({ subscriptionIds: [this.id], sendInitialValues: true });
    const status = response.results?.[0]?.statusCode;
    if (status?.isGood()) return true;
    this.o.log.info({ subscription: this.id, status: status?.name }, 'opcua subscription could not be transferred');
    return false;
  }

  /**
   * Fetches, with Republish, the notifications the server still holds after the last one used.
   * Rejects with SubscriptionGone when the server no longer knows the subscription.
   */
  async republishPending(session: RawSession): Promise<void> {
    let recovered = 0;
    for (;;) {
      const message = await this.republish(session, this.lastSeq + 1);
      if (!message) break;
      this.consume(message);
      recovered++;
    }
    if (recovered > 0) this.o.log.info({ subscription: this.id, recovered }, 'opcua notifications recovered with Republish');
  }

  /** Tries again the monitored items that failed (a node may exist now). */
  async repairItems(session: RawSession): Promise<void> {
    const failed = this.items.filter((i) => i.monitoredItemId === undefined);
    if (failed.length > 0) await this.createItems(session, failed);
  }

  /** Starts the publish loop and the watchdog on a session holding this subscription. */
  start(session: RawSession): void {
    this.stop();
    const epoch = this.epoch;
    this.lastNotification = Date.now();
    for (let i = 0; i < PUBLISH_IN_FLIGHT; i++) this.publish(session, epoch);
    const silence = this.silenceMs;
    const watchdog = setInterval(() => {
      const quiet = Date.now() - this.lastNotification;
      if (quiet > silence) this.lose(epoch, `no notification for ${(quiet / 1000).toFixed(1)}s (the subscription went silent)`);
      // No notification came to carry them (every item failed?): send the held readings alone.
      else if (this.held.length > 0 && Date.now() - this.heldSince > 2 * this.publishingInterval + 1000) this.o.emit(this.held.splice(0));
    }, Math.max(100, Math.min(1000, silence / 4)));
    const retry = setInterval(() => {
      if (this.items.some((i) => i.monitoredItemId === undefined)) {
        this.repairItems(session).catch((err) => this.o.log.debug({ err }, 'opcua monitored item retry failed'));
      }
    }, this.o.tuning.itemRetryMs);
    watchdog.unref();
    retry.unref();
    this.timers = [watchdog, retry];
  }

  /** Stops the loop: answers still on their way are ignored. */
  stop(): void {
    this.epoch++;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Stops and deletes the subscription on the server (best effort: the session may be gone already). */
  async delete(session: RawSession | undefined): Promise<void> {
    this.stop();
    if (session) await this.deleteOnServer(session);
  }

  private async deleteOnServer(session: RawSession): Promise<void> {
    if (this.id === 0) return;
    const id = this.id;
    this.id = 0;
    this.o.countRequest();
    const del = session.deleteSubscriptions.bind(session) as (r: DeleteSubscriptionsRequestOptions) => Promise<unknown>;
    await del({ subscriptionIds: [id] }).catch(() => {});
  }

  /** Every tag bad with the same reason (the link is down). */
  markAllBad(error: string): void {
    const ts = Date.now();
    this.o.emit(this.o.tags.map((t) => ({ tag: t.name, value: null, quality: 'bad' as const, ts, error })));
  }

  get silenceMs(): number {
    const base = Math.max(this.o.tuning.silencePeriods * this.publishingInterval, this.o.tuning.silenceFloorMs);
    // Without the CurrentTime item only keep-alives prove life, and they come every keep-alive period.
    return this.watchdogItem ? base : base + 2 * this.keepAliveCount * this.publishingInterval;
  }

  private async createWatchdogItem(session: RawSession): Promise<boolean> {
    this.o.countRequest();
    const response = await session.createMonitoredItems({
      subscriptionId: this.id,
      timestampsToReturn: TimestampsToReturn.Neither,
      itemsToCreate: [{
        itemToMonitor: { nodeId: `i=${VariableIds.Server_ServerStatus_CurrentTime}`, attributeId: AttributeIds.Value },
        monitoringMode: MonitoringMode.Reporting,
        requestedParameters: { clientHandle: WATCHDOG_HANDLE, samplingInterval: this.publishingInterval, queueSize: 1, discardOldest: true },
      }],
    });
    const status = response.results?.[0]?.statusCode;
    if (status?.isGood()) return true;
    this.o.log.warn({ status: status?.name },
      'opcua server refused to monitor Server_ServerStatus_CurrentTime: the silence watchdog falls back to keep-alives');
    return false;
  }

  private async createItems(session: RawSession, items: Item[]): Promise<void> {
    const newlyBad: Item[] = [];
    const fail = (item: Item, error: string) => {
      if (item.error !== error) newlyBad.push(item);
      item.error = error;
    };
    const ready: Array<Item & { nodeId: NodeId }> = [];
    for (const item of items) {
      const nodeId = this.o.resolve(item.tag);
      if (typeof nodeId === 'string') fail(item, nodeId);
      else ready.push(Object.assign(item, { nodeId }));
    }
    const limit = this.o.maxItemsPerCall() || ready.length;
    const refused: Item[] = [];
    for (let i = 0; i < ready.length; i += limit) {
      const chunk = ready.slice(i, i + limit);
      this.o.countRequest();
      const response: CreateMonitoredItemsResponse = await session.createMonitoredItems({
        subscriptionId: this.id,
        timestampsToReturn: TimestampsToReturn.Both,
        itemsToCreate: chunk.map((item) => ({
          itemToMonitor: { nodeId: item.nodeId, attributeId: AttributeIds.Value },
          monitoringMode: MonitoringMode.Reporting,
          requestedParameters: {
            clientHandle: item.handle,
            samplingInterval: item.tag.sampling_interval,
            queueSize: item.tag.queue_size,
            discardOldest: true,
            filter: item.useFilter ? deadbandFilter(item.tag) : null,
          },
        })),
      });
      chunk.forEach((item, k) => {
        const result = response.results?.[k];
        const status = result?.statusCode;
        if (result && status?.isGood()) {
          item.monitoredItemId = result.monitoredItemId;
          item.error = undefined;
        } else if (item.useFilter && status && FILTER_REFUSED.has(status.name)) {
          item.useFilter = false;
          refused.push(item);
        } else {
          fail(item, status?.name ?? 'BadUnexpectedError');
        }
      });
    }
    if (refused.length > 0) {
      this.o.log.info({ tags: refused.map((i) => i.tag.name) },
        'opcua server refused a deadband filter on these nodes (not numeric?); monitoring them without it');
      await this.createItems(session, refused);
    }
    // Said once per change: a node that stays missing is retried quietly.
    if (newlyBad.length > 0) {
      this.o.log.warn({ items: newlyBad.map((i) => ({ tag: i.tag.name, node_id: i.tag.node_id, error: i.error })) },
        'opcua monitored items not created: these tags stay bad, the others carry on');
      if (this.held.length === 0) this.heldSince = Date.now();
      this.held.push(...newlyBad.map((i) => this.badReading(i)));
    }
  }

  private badReading(item: Item): Reading {
    return { tag: item.tag.name, value: null, quality: 'bad', ts: Date.now(), error: item.error };
  }

  private get publishTimeout(): number {
    // The server holds a Publish until it has news or a keep-alive is due; the requests queue behind each other.
    return (PUBLISH_IN_FLIGHT + 1) * this.keepAliveCount * this.publishingInterval + this.o.timeout + 1000;
  }

  private publish(session: RawSession, epoch: number): void {
    if (epoch !== this.epoch) return;
    const acks = this.acks.splice(0);
    const request = new PublishRequest({ requestHeader: { timeoutHint: this.publishTimeout }, subscriptionAcknowledgements: acks });
    this.o.countRequest();
    session.publish(request, (err, response) => {
      if (epoch !== this.epoch) return;
      if (err || !response) {
        // Unsent acknowledgements go out with the next request (a duplicate is harmless).
        this.acks.unshift(...acks);
        const status = statusName(err);
        // The server keeps fewer publish requests than we send: one slot less, nothing lost.
        if (status === 'BadTooManyPublishRequests') return;
        this.lose(epoch, `publish failed: ${status ?? (err as Error)?.message ?? 'no response'}`);
        return;
      }
      this.publish(session, epoch);
      this.processing = this.processing
        .then(() => this.handle(session, response, epoch))
        .catch((e) => this.lose(epoch, e instanceof SubscriptionGone ? e.message : `notification handling failed: ${statusName(e) ?? (e as Error).message}`));
    });
  }

  private async handle(session: RawSession, response: PublishResponse, epoch: number): Promise<void> {
    if (epoch !== this.epoch) return;
    const message = response.notificationMessage;
    if (response.subscriptionId !== this.id) return;
    const isKeepAlive = (message.notificationData ?? []).length === 0;
    // A keep-alive carries the next sequence number to come, a notification its own: either way
    // every message before it should have arrived (numbering starts at 1).
    const upTo = message.sequenceNumber - 1;
    if (upTo > this.lastSeq) await this.fillGap(session, upTo, epoch);
    if (epoch !== this.epoch) return;
    if (isKeepAlive) {
      if (!this.watchdogItem) this.lastNotification = Date.now();
      return;
    }
    if (message.sequenceNumber <= this.lastSeq) {
      // Already used (it came through Republish): acknowledge it again so the server frees it.
      this.acks.push(new SubscriptionAcknowledgement({ subscriptionId: this.id, sequenceNumber: message.sequenceNumber }));
      return;
    }
    this.consume(message);
  }

  /** Republishes lastSeq+1 … upTo, in order; what the server no longer holds is counted and logged. */
  private async fillGap(session: RawSession, upTo: number, epoch: number): Promise<void> {
    let lost = 0;
    for (let seq = this.lastSeq + 1; seq <= upTo && epoch === this.epoch; seq++) {
      const message = await this.republish(session, seq);
      if (message) this.consume(message);
      else lost++;
    }
    this.lastSeq = Math.max(this.lastSeq, upTo);
    if (lost > 0) this.o.log.warn({ subscription: this.id, lost }, 'opcua notifications lost: the server no longer held them for Republish');
  }

  /** One Republish; undefined when the server no longer holds that message. */
  private async republish(session: RawSession, seq: number): Promise<NotificationMessage | undefined> {
    this.o.countRequest();
    try {
      const response = await new Promise<RepublishResponse>((resolve, reject) => {
        session.republish(new RepublishRequest({ subscriptionId: this.id, retransmitSequenceNumber: seq }), (err, r) => (err || !r ? reject(err) : resolve(r)));
      });
      return response.notificationMessage;
    } catch (err) {
      const status = statusName(err);
      if (status === 'BadMessageNotAvailable') return undefined;
      if (status && SUBSCRIPTION_GONE.has(status)) throw new SubscriptionGone(`subscription ${this.id} gone (${status})`);
      throw err;
    }
  }

  /** Uses one notification message: readings out, acknowledgement queued, watchdog fed. */
  private consume(message: NotificationMessage): void {
    this.lastSeq = Math.max(this.lastSeq, message.sequenceNumber);
    this.acks.push(new SubscriptionAcknowledgement({ subscriptionId: this.id, sequenceNumber: message.sequenceNumber }));
    this.lastNotification = Date.now();
    const now = Date.now();
    const readings: Reading[] = this.held.splice(0);
    for (const data of message.notificationData ?? []) {
      if (data instanceof DataChangeNotification) {
        for (const n of data.monitoredItems ?? []) {
          const item = n.clientHandle === WATCHDOG_HANDLE ? undefined : this.items[n.clientHandle - 1];
          if (item) readings.push(this.o.readingOf(item.tag, n.value, now));
        }
      } else if (data instanceof StatusChangeNotification && !data.status.isGood()) {
        // BadTimeout here: the server let the subscription expire (it heard nothing for its lifetime).
        this.lose(this.epoch, `subscription ended by the server (${data.status.name})`);
      }
    }
    if (readings.length > 0) this.o.emit(readings);
  }

  private lose(epoch: number, cause: string): void {
    if (epoch !== this.epoch) return;
    this.stop();
    this.o.onLost(cause);
  }
}

/** An absolute deadband on the raw value: the tag's deadband is in scaled units. */
function deadbandFilter(tag: OpcuaTag): DataChangeFilter {
  const scale = Math.abs(tag.scale) || 1;
  return new DataChangeFilter({
    trigger: DataChangeTrigger.StatusValue,
    deadbandType: DeadbandType.Absolute,
    deadbandValue: (tag.deadband ?? 0) / scale,
  });
}
