/**
 * The Modbus driver: plans, reads, decodes and learns, over any ModbusLink (TCP or RTU). It
 * never touches a socket or a serial port itself.
 *
 * What it learns from a device, kept across reconnects for the life of the driver:
 * - Exception 02 on a block: the block is split in halves (recursively) to find the tags that
 *   really are illegal. Those are quarantined: reported bad with the device's answer and retried
 *   alone with capped exponential backoff, so a firmware fix is picked up. Gap addresses that
 *   were never read successfully inside the failed block become forbidden to later plans, so
 *   the next poll does not trip over them again.
 * - Exception 03/04 on a read longer than its widest tag: the device refuses long reads, so the
 *   per-device maximum is halved (registers or bits) and the tags are re-read in shorter requests.
 * When a quarantined tag recovers, the forbidden gaps of its area are forgotten and the plan is
 * rebuilt from scratch: whatever the fix made readable gets merged again.
 *
 * A device that closes a connection after answering on it (some PLCs and gateways do after every
 * reply) gets a new connection for its next request. A read the close cut off is asked once more
 * on the new one: the close can cross the next request on the wire when a poll takes several
 * reads. Only a lost connection that had not answered, or a failed reopen, reaches the scheduler.
 */
import type { Driver, DriverContext, PollGroup, Reading } from '../../src/driver/contract.js';
import { errorText } from '../../src/error-text.js';
import { decodeRegisters, encodeRegisters, tagWidth, toBool, type TagValue } from './codec.js';
import { LinkLostError, ModbusRequestError, type ModbusLink } from './link.js';
import { AREAS, isBitArea, planRequests, type PlanLimits, type ReadRequest } from './planner.js';
import type { ModbusArea, ModbusDevice, ModbusTag } from './schema.js';

export type OpenLink = (signal: AbortSignal) => Promise<ModbusLink>;

export interface ModbusDriverOptions {
  /** ms before a quarantined tag is first retried; doubles with every failure. Default 5 s. */
  readonly quarantineMinMs?: number;
  /** ms, the longest wait between retries of a quarantined tag. Default 5 min. */
  readonly quarantineMaxMs?: number;
}

interface Quarantine {
  readonly tag: ModbusTag;
  readonly error: string;
  readonly delay: number;
  retryAt: number;
}

interface CachedPlan {
  readonly tags: readonly ModbusTag[];
  readonly version: number;
  readonly requests: readonly ReadRequest[];
}

/** State of one read(): where readings go and whether the device has gone quiet. */
interface Pass {
  link: ModbusLink;
  readonly signal: AbortSignal;
  /** A reading per tag of the group, in the group's order (slots: tag name → index). */
  readonly out: Reading[];
  readonly slots: ReadonlyMap<string, number>;
  /** Set after a timeout (or while the link backs off): the rest of the group is reported bad without asking. */
  silent?: string;
}

function bad(tag: ModbusTag, error: string, ts: number): Reading {
  return { tag: tag.name, value: null, quality: 'bad', ts, error };
}

function good(tag: ModbusTag, value: TagValue, ts: number): Reading {
  if (typeof value === 'number' && !Number.isFinite(value)) return bad(tag, `value is ${value}`, ts);
  return { tag: tag.name, value, quality: 'good', ts };
}

function put(pass: Pass, tag: ModbusTag, reading: Reading): void {
  pass.out[pass.slots.get(tag.name)!] = reading;
}

function singleRequest(tag: ModbusTag): ReadRequest {
  return { area: tag.area, start: tag.address, count: tagWidth(tag), tags: [tag] };
}

/** The smallest request covering `tags` (they are in address order). */
function hull(area: ModbusArea, tags: readonly ModbusTag[]): ReadRequest {
  const start = Math.min(...tags.map((t) => t.address));
  const end = Math.max(...tags.map((t) => t.address + tagWidth(t)));
  return { area, start, count: end - start, tags };
}

export class ModbusDriver implements Driver<ModbusTag> {
  private link: ModbusLink | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly max: { registers: number; bits: number };
  /** Gap addresses that answered exception 02, per area. */
  private readonly badGaps = new Map<ModbusArea, Set<number>>(AREAS.map((a) => [a, new Set<number>()]));
  private readonly quarantined = new Map<string, Quarantine>();
  private readonly plans = new Map<string, CachedPlan>();
  private readonly slots = new WeakMap<readonly ModbusTag[], Map<string, number>>();
  private readonly requestSlots = new WeakMap<ReadRequest, readonly number[]>();
  /** Bumped whenever what the driver knows changes; cached plans of older versions are stale. */
  private version = 0;
  private readonly quarantineMinMs: number;
  private readonly quarantineMaxMs: number;
  /** Connections the device closed after answering, since the driver was created. */
  private closesAfterReplies = 0;

  constructor(
    private readonly device: ModbusDevice,
    private readonly ctx: DriverContext,
    private readonly openLink: OpenLink,
    options: ModbusDriverOptions = {},
  ) {
    this.max = { registers: device.max_registers_per_read, bits: device.max_bits_per_read };
    this.quarantineMinMs = options.quarantineMinMs ?? 5_000;
    this.quarantineMaxMs = options.quarantineMaxMs ?? 300_000;
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.link?.close();
    this.link = undefined;
    this.link = await this.openLink(signal);
  }

  read(group: PollGroup<ModbusTag>, signal: AbortSignal): Promise<Reading[]> {
    return this.exclusive(() => this.readGroup(group, signal));
  }

  write(t: ModbusTag, value: unknown, signal: AbortSignal): Promise<void> {
    if (t.area === 'input' || t.area === 'discrete') {
      return Promise.reject(new Error(`tag ${t.name} is in the ${t.area} area, which is read-only`));
    }
    if (!t.writable) return Promise.reject(new Error(`tag ${t.name} is not writable (it needs writable: true)`));
    return this.exclusive(() => this.writeTag(t, value, signal));
  }

  async close(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    await link?.close();
  }

  /** One request or group at a time: many devices cannot interleave, and a bit write is read-modify-write. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The link to ask: a new one when the device closed the last one after answering. */
  private async usableLink(signal: AbortSignal): Promise<ModbusLink> {
    const link = this.link;
    if (link?.closedAfterReplies) return this.reopen(link, signal);
    return this.currentLink();
  }

  /** Replaces a link the device closed; when that fails, the read fails with both reasons. */
  private async reopen(closed: ModbusLink, signal: AbortSignal): Promise<ModbusLink> {
    let link: ModbusLink;
    try {
      link = await this.openLink(signal);
    } catch (err) {
      throw new Error(`${closed.lostReason}, and a new connection failed: ${errorText(err)}`);
    }
    await closed.close();
    this.link = link;
    // Said once: for a device that closes after every reply it would be said every poll.
    this.ctx.log[this.closesAfterReplies++ === 0 ? 'info' : 'debug'](
      'the device closed the connection after replying (some PLCs and gateways do after every reply); a new one was opened');
    return link;
  }

  private currentLink(): ModbusLink {
    const link = this.link;
    if (!link) throw new Error('not connected');
    if (link.lostReason !== undefined) throw new Error(link.lostReason);
    return link;
  }

  private limits(): PlanLimits {
    const forbidden: Partial<Record<ModbusArea, ReadonlySet<number>>> = {};
    for (const area of AREAS) {
      const set = new Set(this.badGaps.get(area));
      // A quarantined tag is not planned; its registers must not be read over as gap either.
      for (const { tag } of this.quarantined.values()) {
        if (tag.area === area) for (let a = tag.address; a < tag.address + tagWidth(tag); a++) set.add(a);
      }
      if (set.size > 0) forbidden[area] = set;
    }
    return {
      max_registers_per_read: this.max.registers,
      max_bits_per_read: this.max.bits,
      max_gap: this.device.max_gap,
      forbidden,
    };
  }

  private planFor(group: PollGroup<ModbusTag>): readonly ReadRequest[] {
    const cached = this.plans.get(group.key);
    if (cached && cached.version === this.version && cached.tags === group.tags) return cached.requests;
    const tags = group.tags.filter((t) => !this.quarantined.has(t.name));
    const requests = planRequests(tags, this.limits());
    this.plans.set(group.key, { tags: group.tags, version: this.version, requests });
    return requests;
  }

  private async readGroup(group: PollGroup<ModbusTag>, signal: AbortSignal): Promise<Reading[]> {
    const pass: Pass = { link: await this.usableLink(signal), signal, out: new Array<Reading>(group.tags.length), slots: this.slotsOf(group.tags) };
    const now = Date.now();
    const due: ModbusTag[] = [];
    for (const tag of group.tags) {
      const q = this.quarantined.get(tag.name);
      if (q === undefined) continue;
      if (now >= q.retryAt) due.push(tag);
      else put(pass, tag, bad(tag, q.error, now));
    }
    for (const request of this.planFor(group)) await this.execute(request, pass);
    for (const tag of due) {
      if (await this.execute(singleRequest(tag), pass)) this.release(tag);
    }
    return pass.out;
  }

  /** Built once per group: a Map of readings per poll was ~70 B of garbage per reading. */
  private slotsOf(tags: readonly ModbusTag[]): ReadonlyMap<string, number> {
    let slots = this.slots.get(tags);
    if (slots === undefined) {
      slots = new Map(tags.map((t, i) => [t.name, i]));
      this.slots.set(tags, slots);
    }
    return slots;
  }

  /**
   * Where each tag of a request goes in pass.out. Kept per request: a planned request serves one
   * group for as long as its plan is cached, and a Map lookup per reading was ~4 % of the
   * daemon's CPU at 10,000 tags/s.
   */
  private slotsIn(request: ReadRequest, pass: Pass): readonly number[] {
    let slots = this.requestSlots.get(request);
    if (slots === undefined) {
      slots = request.tags.map((tag) => pass.slots.get(tag.name)!);
      this.requestSlots.set(request, slots);
    }
    return slots;
  }

  /**
   * Issue one request and put a reading for each of its tags into pass.out. True when the
   * request succeeded as issued. Rejects only when the link is lost (or the read is aborted).
   */
  private async execute(request: ReadRequest, pass: Pass): Promise<boolean> {
    pass.silent ??= pass.link.backedOff?.();
    if (pass.silent !== undefined) {
      const ts = Date.now();
      for (const tag of request.tags) put(pass, tag, bad(tag, pass.silent, ts));
      return false;
    }
    pass.signal.throwIfAborted();
    const { tags } = request;
    const slots = this.slotsIn(request, pass);
    try {
      this.ctx.countRequest();
      if (isBitArea(request.area)) {
        const bits = await pass.link.readBits(request.area as 'coil' | 'discrete', request.start, request.count);
        const ts = Date.now();
        for (let i = 0; i < tags.length; i++) pass.out[slots[i]] = good(tags[i], bits[tags[i].address - request.start] === true, ts);
      } else {
        const regs = await pass.link.readRegisters(request.area as 'holding' | 'input', request.start, request.count);
        const ts = Date.now();
        for (let i = 0; i < tags.length; i++) pass.out[slots[i]] = good(tags[i], decodeRegisters(tags[i], regs, tags[i].address - request.start), ts);
      }
      return true;
    } catch (err) {
      if (err instanceof LinkLostError && pass.link.closedAfterReplies) {
        // Reads are safe to repeat; a new connection that is lost before answering is not reopened.
        pass.link = await this.reopen(pass.link, pass.signal);
        return this.execute(request, pass);
      }
      if (!(err instanceof ModbusRequestError)) throw err;
      if (err.kind === 'exception' && err.code === 2) {
        await this.isolateIllegal(request, err.message, pass);
      } else if (err.kind === 'exception' && (err.code === 3 || err.code === 4) && this.canShorten(request)) {
        await this.shorten(request, err.message, pass);
      } else {
        if (err.kind === 'timeout') pass.silent = err.message;
        const ts = Date.now();
        for (const tag of request.tags) put(pass, tag, bad(tag, err.message, ts));
      }
      return false;
    }
  }

  /** Exception 02: halve the block until the illegal tags are alone, quarantine only those. */
  private async isolateIllegal(request: ReadRequest, error: string, pass: Pass): Promise<void> {
    if (request.tags.length === 1) {
      this.quarantine(request.tags[0], error);
      put(pass, request.tags[0], bad(request.tags[0], error, Date.now()));
      return;
    }
    const sorted = [...request.tags].sort((a, b) => a.address - b.address);
    const middle = Math.ceil(sorted.length / 2);
    const halves = [hull(request.area, sorted.slice(0, middle)), hull(request.area, sorted.slice(middle))];
    // Gap addresses stay suspect unless a smaller read that spans them succeeds.
    const suspects = new Set<number>();
    for (let a = request.start; a < request.start + request.count; a++) {
      if (!request.tags.some((t) => a >= t.address && a < t.address + tagWidth(t))) suspects.add(a);
    }
    for (const half of halves) {
      if (await this.execute(half, pass)) {
        for (let a = half.start; a < half.start + half.count; a++) suspects.delete(a);
      }
    }
    if (suspects.size > 0) {
      const gaps = this.badGaps.get(request.area)!;
      for (const a of suspects) gaps.add(a);
      this.version++;
      this.ctx.log.info({ area: request.area, start: request.start, count: request.count },
        'a read answered exception 02; reading around the addresses that refused it from now on');
    }
  }

  /** Whether a shorter request could still hold every tag of this one. */
  private canShorten(request: ReadRequest): boolean {
    return request.count > Math.max(...request.tags.map(tagWidth));
  }

  /** Exception 03/04 on a long read: learn a smaller maximum, re-read these tags under it. */
  private async shorten(request: ReadRequest, error: string, pass: Pass): Promise<void> {
    const key = isBitArea(request.area) ? 'bits' : 'registers';
    const learned = Math.max(1, Math.floor(request.count / 2));
    if (learned < this.max[key]) {
      this.max[key] = learned;
      this.version++;
      this.ctx.log.warn({ area: request.area, start: request.start, count: request.count, max: learned },
        `the device refused a ${request.count}-${key.slice(0, -1)} read (${error}); reading at most ${learned} per request from now on`);
    }
    for (const sub of planRequests(request.tags, this.limits())) await this.execute(sub, pass);
  }

  private quarantine(tag: ModbusTag, error: string): void {
    const previous = this.quarantined.get(tag.name);
    const delay = previous ? Math.min(previous.delay * 2, this.quarantineMaxMs) : this.quarantineMinMs;
    this.quarantined.set(tag.name, { tag, error, delay, retryAt: Date.now() + delay });
    if (!previous) this.version++;
    this.ctx.log.warn({ tag: tag.name, area: tag.area, address: tag.address, retry_in_ms: delay },
      `tag ${tag.name} answered ${error}; quarantined, retried alone in ${delay} ms`);
  }

  private release(tag: ModbusTag): void {
    if (!this.quarantined.delete(tag.name)) return;
    this.badGaps.get(tag.area)!.clear();
    this.version++;
    this.ctx.log.info({ tag: tag.name }, `tag ${tag.name} answers again; back in the regular plan`);
  }

  private async writeTag(tag: ModbusTag, value: unknown, signal: AbortSignal): Promise<void> {
    const link = await this.usableLink(signal);
    signal.throwIfAborted();
    try {
      if (tag.area === 'coil') {
        const on = toBool(value);
        this.ctx.countRequest();
        await link.writeCoil(tag.address, on);
        return;
      }
      let current = 0;
      if (tag.type === 'bool' && tag.bit !== undefined) {
        toBool(value);
        // No standard way to set one bit everywhere (FC22 is optional): read, modify, write.
        this.ctx.countRequest();
        current = (await link.readRegisters('holding', tag.address, 1))[0];
      }
      const registers = encodeRegisters(tag, value, current);
      this.ctx.countRequest();
      await link.writeRegisters(tag.address, registers);
    } catch (err) {
      if (err instanceof LinkLostError || err instanceof ModbusRequestError) throw new Error(`write to ${tag.name} failed: ${err.message}`);
      throw err;
    }
  }
}
