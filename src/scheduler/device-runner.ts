/**
 * One device's life: connect with capped backoff, poll each group of tags on its interval
 * against the monotonic clock, hand push readings through, and turn failures into bad readings.
 *
 * Timing: a group's ticks are due at start + k·interval (no drift, no jitter from how long a poll
 * took). A tick that finds the group's previous poll still running is an overrun: counted,
 * logged (rate-limited), and skipped rather than queued, so a slow device never builds a backlog
 * of stale requests. Polls of one device run one at a time (most PLCs serve one request per
 * connection at a time); other devices are untouched by this one's slowness. Writes (write())
 * queue on the same per-device queue, between polls.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DeviceConfig, TagCommon } from '../config/types.js';
import type { Driver, DriverModule, PollGroup, Reading, Unsubscribe } from '../driver/contract.js';
import type { Metrics } from '../metrics.js';
import { Backoff, sleep } from '../backoff.js';
import { ReportFilter } from './report-filter.js';
import { pollGroups } from './groups.js';
import { errorText } from '../error-text.js';
import { LatestReading, type LatestView } from './latest-reading.js';

export interface DeviceStatus {
  up: boolean;
  /** Epoch ms of the last poll that returned a good reading. */
  last_ok_ts: number | null;
  error: string | null;
  /** Duration of the last poll, ms. */
  last_poll_ms: number | null;
}

export interface DeviceRunnerOptions {
  device: DeviceConfig;
  module: DriverModule;
  log: Logger;
  metrics: Metrics;
  dataDir: string;
  /** Receives the readings that pass report-by-exception, never an empty list. */
  emit: (device: string, readings: Reading[]) => void;
  /** Told how many ms after its due time each poll tick fired: the event-loop lag, measured without a timer of its own. */
  timerLate?: (ms: number) => void;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

const OVERRUN_LOG_INTERVAL_MS = 60_000;

export class DeviceRunner {
  readonly device: DeviceConfig;
  private readonly log: Logger;
  private readonly filter = new ReportFilter();
  private readonly tagsByName: ReadonlyMap<string, TagCommon>;
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private driver: Driver | undefined;
  private running: Promise<void> | undefined;
  private readonly state: DeviceStatus = { up: false, last_ok_ts: null, error: null, last_poll_ms: null };
  private lastOverrunLog = -Infinity;
  /** The last reading of every tag, published or not: what the status page shows. */
  private readonly latest = new Map<string, LatestReading>();
  /** The device's tag names in config order, for the status page's windows. */
  readonly tagNames: readonly string[];
  /** Polls and writes of the device, one at a time, in the order queued. */
  private queue: Promise<void> = Promise.resolve();
  /** The connected driver while its polls run; undefined while connecting or backing off. */
  private serving: Driver | undefined;
  private readonly metrics: ReturnType<typeof deviceSeries>;

  constructor(private readonly opts: DeviceRunnerOptions) {
    this.device = opts.device;
    this.tagsByName = new Map(opts.device.tags.map((t) => [t.name, t]));
    this.tagNames = opts.device.tags.map((t) => t.name);
    this.log = opts.log.child({ device: opts.device.name });
    this.backoff = new Backoff(opts.reconnectMinMs ?? 1000, opts.reconnectMaxMs ?? 30_000);
    this.metrics = deviceSeries(opts.metrics, opts.device);
    this.metrics.up.set(0);
  }

  start(): void {
    this.running ??= this.run();
  }

  status(): DeviceStatus {
    return { ...this.state };
  }

  /** The last reading of each tag that has one, in config order. */
  lastReadings(): Reading[] {
    const out: Reading[] = [];
    for (const tag of this.device.tags) {
      const r = this.latest.get(tag.name);
      if (r) out.push(r.reading(tag.name));
    }
    return out;
  }

  /** The tag's last reading and its version, undefined before its first reading. */
  latestOf(tagName: string): LatestView | undefined {
    return this.latest.get(tagName);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /**
   * Writes one value to a tag, queued behind the poll in progress (never interleaved with one).
   * Rejects when the device is not connected, its driver cannot write, or the device refused.
   */
  write(tagName: string, value: unknown): Promise<void> {
    const tag = this.tagsByName.get(tagName);
    if (!tag) return Promise.reject(new Error(`device ${this.device.name} has no tag "${tagName}"`));
    const driver = this.serving;
    if (!driver) {
      return Promise.reject(new Error(`device ${this.device.name} is not connected${this.state.error ? ` (${this.state.error})` : ''}`));
    }
    if (!driver.write) return Promise.reject(new Error(`driver ${this.device.driver} cannot write`));
    const write = driver.write.bind(driver);
    const run = this.queue.then(() => write(tag, value, this.abort.signal));
    this.queue = run.then(noop, noop);
    return run;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const pushTags = this.device.tags.filter((t) => this.opts.module.isPushTag?.(this.device, t) ?? false);
    const groups = pollGroups(this.device.tags.filter((t) => !pushTags.includes(t)));
    while (!signal.aborted) {
      const driver = await this.connect(signal);
      if (!driver) continue;
      const lost = await this.serve(driver, groups, pushTags, signal);
      await driver.close().catch(() => {});
      if (lost) {
        this.markDown(lost);
        await sleep(this.backoff.next(), signal);
      }
    }
    await this.driver?.close().catch(() => {});
    this.metrics.up.set(0);
  }

  /** Resolves with a connected driver, or undefined after a failed attempt and its backoff. */
  private async connect(signal: AbortSignal): Promise<Driver | undefined> {
    try {
      this.driver ??= await this.opts.module.create(this.device, {
        log: this.log,
        dataDir: this.opts.dataDir,
        countRequest: this.metrics.requests,
        serialLineBusy: this.metrics.serialLineBusy,
      });
      await this.driver.connect(signal);
      if (signal.aborted) return undefined;
      this.backoff.reset();
      this.log.info('device connected');
      return this.driver;
    } catch (err) {
      if (signal.aborted) return undefined;
      this.markDown(`connect failed: ${errorText(err)}`);
      await sleep(this.backoff.next(), signal);
      return undefined;
    }
  }

  /**
   * Polls every group until the connection is lost (resolves with why) or the runner stops
   * (resolves with null).
   */
  private serve(driver: Driver, groups: PollGroup[], pushTags: TagCommon[], signal: AbortSignal): Promise<string | null> {
    return new Promise((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      let unsubscribe: Unsubscribe | undefined;
      let finished = false;
      this.serving = driver;
      const finish = (why: string | null) => {
        if (finished) return;
        finished = true;
        this.serving = undefined;
        for (const t of timers) clearTimeout(t);
        signal.removeEventListener('abort', onAbort);
        const unsub = unsubscribe?.().catch(() => {});
        // Let the poll or write in progress settle so close() never races a request on the wire.
        void Promise.all([this.queue, unsub]).then(() => resolve(why));
      };
      const onAbort = () => finish(null);
      signal.addEventListener('abort', onAbort, { once: true });

      groups.forEach((group, index) => {
        let busy = false;
        // Stagger groups a little so a device's groups do not all fire in the same tick.
        let due = performance.now() + Math.min(index * 10, group.interval / 2);
        const tick = () => {
          if (finished) return;
          this.opts.timerLate?.(performance.now() - due);
          if (busy) this.overrun(group);
          else {
            busy = true;
            this.queue = this.queue.then(() => this.pollOnce(driver, group, signal).then(
              () => { busy = false; },
              (err) => { busy = false; finish(`connection lost: ${errorText(err)}`); },
            ));
          }
          const now = performance.now();
          due += group.interval;
          // After a stall (event loop blocked, machine suspended) skip missed ticks instead of bursting.
          if (due < now) due += Math.ceil((now - due) / group.interval) * group.interval;
          timers[index] = setTimeout(tick, due - now);
        };
        timers[index] = setTimeout(tick, Math.max(0, due - performance.now()));
      });

      if (pushTags.length > 0) {
        if (!driver.subscribe) {
          finish(`driver ${this.device.driver} cannot subscribe`);
        } else {
          driver.subscribe(pushTags, (readings) => this.deliver(readings, pushTags.length)).then(
            (unsub) => { if (finished) void unsub(); else unsubscribe = unsub; },
            (err) => finish(`subscribe failed: ${errorText(err)}`),
          );
        }
      }
    });
  }

  private async pollOnce(driver: Driver, group: PollGroup, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const started = performance.now();
    const readings = await driver.read(group, signal);
    const ms = performance.now() - started;
    this.state.last_poll_ms = Math.round(ms * 10) / 10;
    this.metrics.pollDuration.observe(ms / 1000);
    this.deliver(readings);
  }

  /**
   * Judges the device's health from a batch, filters it and passes it on. A poll that returns
   * nothing but bad readings means the device is not answering. A pushed batch (a subscription's
   * notification) with one bad tag says nothing about the others: only one in which every pushed
   * tag is bad (a listen-only port that vanished) marks the device down.
   */
  private deliver(readings: Reading[], pushedTags?: number): void {
    const good = readings.find((r) => r.quality !== 'bad');
    if (good) this.setUp(good.ts);
    else if (readings.length > 0 && (pushedTags === undefined || readings.length >= pushedTags)) {
      this.setDown(readings[0].error ?? 'bad quality');
    }
    this.metrics.readings.inc(readings.length);
    const now = performance.now();
    // Most polls pass every reading: the batch goes on as it came, copied only from the first one filtered out.
    let out: Reading[] | null = null;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i];
      const tag = this.tagsByName.get(r.tag);
      if (tag) this.remember(r);
      if (tag && this.filter.accept(tag, r, now)) out?.push(r);
      else out ??= readings.slice(0, i);
    }
    out ??= readings;
    if (out.length > 0) this.opts.emit(this.device.name, out);
  }

  private remember(r: Reading): void {
    const kept = this.latest.get(r.tag);
    if (kept) kept.update(r);
    else this.latest.set(r.tag, new LatestReading(r));
  }

  private setUp(ts: number): void {
    this.state.last_ok_ts = ts;
    if (this.state.up) return;
    this.log.info('device up');
    this.state.up = true;
    this.state.error = null;
    this.metrics.up.set(1);
  }

  private setDown(error: string): void {
    if (this.state.up || this.state.error !== error) this.log.warn({ error }, 'device down');
    this.state.up = false;
    this.state.error = error;
    this.metrics.up.set(0);
  }

  /** The connection failed: the device is down and every tag bad (published once per transition). */
  private markDown(error: string): void {
    this.setDown(error);
    const ts = Date.now();
    const now = performance.now();
    const out: Reading[] = [];
    for (const tag of this.device.tags) {
      const r: Reading = { tag: tag.name, value: null, quality: 'bad', ts, error };
      this.remember(r);
      if (this.filter.accept(tag, r, now)) out.push(r);
    }
    if (out.length > 0) this.opts.emit(this.device.name, out);
  }

  private overrun(group: PollGroup): void {
    this.metrics.pollOverruns.inc();
    const now = performance.now();
    if (now - this.lastOverrunLog < OVERRUN_LOG_INTERVAL_MS) return;
    this.lastOverrunLog = now;
    this.log.warn({ group: group.key, interval_ms: group.interval },
      'poll overrun: the previous poll of this group was still running, tick skipped (the device is slower than poll_interval)');
  }
}

/** A device's series of the metrics, bound once rather than looked up at every poll and request. */
function deviceSeries(m: Metrics, { name: device, driver }: DeviceConfig) {
  const labels = { device };
  return {
    up: m.deviceUp.labels(labels),
    readings: m.readings.labels(labels),
    pollDuration: m.pollDuration.labels(labels),
    pollOverruns: m.pollOverruns.labels(labels),
    requests: m.deviceRequests.labels({ device, driver }).inc,
    serialLineBusy: (port: string, ratio: number) => m.serialLineBusy.set({ port }, ratio),
  };
}

function noop(): void {}

