/**
 * Builds the chain drivers → scheduler → buffer → forwarder from a config and owns its life.
 *
 * Start order: buffer, forwarder, devices, HTTP — so the first reading always has somewhere
 * durable to go. Stop order is the reverse, the buffer last, after a final flush. A reload
 * (SIGHUP) diffs the device list and restarts only the devices that changed; the buffer and
 * everything in it are never touched by a reload.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { DeviceConfig, FloorgateConfig } from './config/types.js';
import type { LineLoad, Reading, Value } from './driver/contract.js';
import type { MessageStore } from './buffer/types.js';
import type { Health, StatusSource, TagTable } from './http/health.js';
import type { DriverRegistry } from './driver/registry.js';
import { Metrics } from './metrics.js';
import { bufferPath } from './data-dir.js';
import { DeviceRunner } from './scheduler/device-runner.js';
import { currentVersion, nextVersion } from './scheduler/latest-reading.js';
import { openBuffer } from './buffer/sqlite-buffer.js';
import { Forwarder } from './forward/forwarder.js';
import { createFormat } from './forward/formats.js';
import type { WireFormat } from './forward/format.js';
import type { DeviceSource, DeviceView } from './forward/sparkplug-format.js';
import { Commands } from './commands/commands.js';
import { JsonCommands } from './commands/json-commands.js';
import { splitCompact } from './message/compact.js';
import { encodeTagReadingWithin, splitReadings, type Oversize } from './message/encode.js';
import { BodyBudget } from './forward/message-size.js';
import { startHttpServer } from './http/server.js';
import { createLagMonitor } from './http/lag.js';
import { VERSION } from './package-info.js';
import { Clock, type ClockStamp } from './clock/clock.js';
import { ClockFlag } from './clock/flag.js';
import { readBootId } from './clock/boot-id.js';
import { syncSourceOf } from './clock/sync-source.js';

export class Runtime implements StatusSource {
  readonly metrics: Metrics;
  private readonly runners = new Map<string, DeviceRunner>();
  private forwarder!: Forwarder;
  /** Body bytes per message under mqtt.max_message_bytes, for the format the forwarder speaks. */
  private budget!: BodyBudget;
  /** Tags whose value was too large for a message, already logged at warn (once each). */
  private readonly tooLargeLogged = new Set<string>();
  /** Write commands from MQTT (…/set topics, or the format's own, e.g. Sparkplug DCMD), checked and routed to the runners. */
  private readonly commands: Commands;
  /** The wire format of mqtt.format (forward/formats.ts); it hears of device changes. */
  private format!: WireFormat;
  private http: { port: number; close(): Promise<void> } | undefined;
  /** Fed by the poll timers: how late they fire is the event-loop lag /healthz reports. */
  private readonly lag = createLagMonitor();
  private readonly startedAt = Date.now();
  /** What the devices sharing a line ask of it, for the status page beside what it measured. */
  private lineLoads: LineLoad[];
  /** Raised when the runners change (start, reload): the status page's windows from before are void. */
  private layoutVersion = nextVersion();
  /** Removes the scrape-time hook that reads the buffer's gauges. */
  private readonly stopCollecting: () => void;
  /** Whether the wall clock can be trusted; stamps every message (reference §4.12). */
  private readonly clock: Clock;

  private constructor(
    private config: FloorgateConfig,
    private readonly log: Logger,
    private readonly buffer: MessageStore,
    private readonly drivers: DriverRegistry,
    metrics: Metrics,
    bootId: string,
  ) {
    this.metrics = metrics;
    this.clock = new Clock({
      config: config.clock,
      source: syncSourceOf(config.clock.sync_source),
      bootId,
      floor: buffer.newestTrustedTs() ?? 0,
      log: log.child({ component: 'clock' }),
      onTrusted: (offset) => this.correct(offset),
      onStep: () => metrics.clockSteps.inc(),
    });
    this.lineLoads = drivers.lineLoads(config.devices);
    this.commands = new Commands({
      target: { tagsOf: (device) => this.runners.get(device)?.device.tags, write: (device, tag, value) => this.write(device, tag, value) },
      log: log.child({ component: 'commands' }),
      registry: metrics.registry,
    });
    // Gauges that mirror the buffer are read when scraped, neither per commit nor on a timer.
    this.stopCollecting = metrics.registry.onCollect(() => this.refreshBufferGauges());
  }

  /** Opens the buffer; nothing polls or publishes until start(). `drivers` serve the config's devices. */
  static async open(config: FloorgateConfig, log: Logger, drivers: DriverRegistry, metrics = new Metrics()): Promise<Runtime> {
    fs.mkdirSync(config.gateway.data_dir, { recursive: true, mode: 0o700 });
    const bootId = readBootId();
    const buffer = openBuffer({
      path: bufferPath(config),
      config: config.buffer,
      log: log.child({ component: 'buffer' }),
      onDrop: (reason, readings) => metrics.dropped.inc({ reason }, readings),
      bootId,
    });
    const runtime = new Runtime(config, log, buffer, drivers, metrics, bootId);
    await runtime.speak(config);
    return runtime;
  }

  /** The HTTP port actually bound (http.listen may ask for port 0), or null when off. */
  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  async start(): Promise<void> {
    this.forwarder.start();
    for (const device of this.config.devices) this.startDevice(device);
    const listen = this.config.http.listen;
    if (listen) {
      this.http = await startHttpServer({
        host: listen.host, port: listen.port, health: this, status: this, metrics: this.metrics, log: this.log.child({ component: 'http' }),
      });
    }
    this.log.info({
      version: VERSION, node: process.version, config: this.config.source, devices: this.config.devices.length, http_port: this.http?.port ?? null,
    }, 'floorgate started');
  }

  /** Stop polling, flush, close the buffer cleanly. */
  async stop(): Promise<void> {
    this.stopCollecting();
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
    this.runners.clear();
    this.buffer.flush();
    await this.forwarder.stop();
    await this.http?.close();
    this.http = undefined;
    this.clock.stop();
    this.buffer.close();
    this.log.info('floorgate stopped');
  }

  /** Applies a new, already validated config: only what changed is restarted. */
  async reload(next: FloorgateConfig): Promise<void> {
    const prev = this.config;
    this.config = next;
    for (const key of ['gateway', 'buffer', 'http', 'clock'] as const) {
      if (!sameConfig(prev[key], next[key])) this.log.warn({ section: key }, `reload: changes to ${key} take effect after a restart`);
    }
    if (prev.log.level !== next.log.level) this.log.level = next.log.level;

    const wanted = new Map(next.devices.map((d) => [d.name, d]));
    const stopping: Promise<void>[] = [];
    for (const [name, runner] of this.runners) {
      const device = wanted.get(name);
      if (device && sameConfig(device, runner.device)) continue;
      this.runners.delete(name);
      this.metrics.deviceUp.remove({ device: name });
      stopping.push(runner.stop());
    }
    // The page's windows are void from the first runner removed until the last one added.
    this.layoutVersion = nextVersion();
    await Promise.all(stopping);
    for (const device of next.devices) if (!this.runners.has(device.name)) this.startDevice(device);
    this.layoutVersion = nextVersion();
    const lines = this.drivers.lineLoads(next.devices);
    for (const { line } of this.lineLoads) {
      if (!lines.some((l) => l.line === line)) this.metrics.serialLineBusy.remove({ port: line });
    }
    this.lineLoads = lines;

    if (!sameConfig(prev.mqtt, next.mqtt)) {
      await this.forwarder.stop();
      await this.speak(next);
      this.forwarder.start();
    } else {
      this.format.devicesChanged?.();
    }
    this.log.info({ devices: next.devices.length }, 'configuration reloaded');
  }

  /**
   * health().status === 'failing', without what health() reads besides (buffer file sizes and
   * edges, the process's RSS): the watchdog asks it every half WATCHDOG_USEC.
   */
  failing(): boolean {
    return !this.buffer.writable;
  }

  health(): Health {
    const stats = this.buffer.stats();
    const mqtt = this.forwarder.state();
    const devices: Health['devices'] = {};
    let allUp = true;
    for (const [name, runner] of this.runners) {
      const s = runner.status();
      devices[name] = s;
      allUp &&= s.up;
    }
    const writable = this.buffer.writable;
    const health: Health = {
      status: this.failing() ? 'failing' : mqtt.connected && allUp ? 'ok' : 'degraded',
      mqtt: { connected: mqtt.connected, since: mqtt.since, last_error: mqtt.lastError },
      buffer: { writable, messages: stats.messages, bytes: stats.bytes, oldest_ts: stats.oldest_ts, dropped: { ...stats.dropped } },
      devices,
      clock: this.clock.status(),
      process: {
        rss_bytes: process.memoryUsage.rss(),
        event_loop_lag_ms: this.lag.p99Ms(),
        buffer_write_ms: this.buffer.lastCommitMs ?? null,
        uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      },
    };
    if (this.lineLoads.length > 0) {
      health.lines = Object.fromEntries(this.lineLoads.map(({ line, load }) => [
        line, { planned_load: load, busy_ratio: this.metrics.serialLineBusy.get({ port: line }) ?? null },
      ]));
    }
    return health;
  }

  /** The last reading of every tag, per device, for the status page. */
  tagTable(): TagTable {
    const devices = [...this.runners.values()].map((runner) => ({
      name: runner.device.name, tags: runner.tagNames, latestOf: (tag: string) => runner.latestOf(tag),
    }));
    return { layoutVersion: this.layoutVersion, version: currentVersion(), devices };
  }

  /** Writes one value to a device's tag, between its polls; rejects with the device's answer. */
  write(device: string, tag: string, value: Value): Promise<void> {
    const runner = this.runners.get(device);
    if (!runner) return Promise.reject(new Error(`unknown device "${device}"`));
    return runner.write(tag, value);
  }

  /** The forwarder, its wire format (mqtt.format) and the message budget that format allows. */
  private async speak(config: FloorgateConfig): Promise<void> {
    const log = this.log.child({ component: 'mqtt' });
    const { format, hearsCommands } = await createFormat({
      config, log, epoch: this.buffer.epoch, devices: this.deviceSource, commands: this.commands, metrics: this.metrics,
    });
    // A format that does not hear commands itself leaves them to the …/set topics.
    const parts = hearsCommands ? [] : [new JsonCommands(config, this.commands)];
    this.format = format;
    this.forwarder = new Forwarder({ config, store: this.buffer, log, metrics: this.metrics, format, parts });
    this.tooLargeLogged.clear();
    this.budget = BodyBudget.of(config, this.buffer.epoch, format);
  }

  /**
   * The devices as a format announces them (Sparkplug births): each configured device, its state and last readings. From
   * the config, not the runners, so the last buffered messages still find their device while the
   * runners are being stopped.
   */
  private readonly deviceSource: DeviceSource = {
    devices: () => this.config.devices.map((d) => this.deviceView(d)),
    device: (name) => {
      const config = this.config.devices.find((d) => d.name === name);
      return config && this.deviceView(config);
    },
  };

  private deviceView(config: DeviceConfig): DeviceView {
    const runner = this.runners.get(config.name);
    const status = runner?.status();
    return {
      // The runner's own object: it stays the same across a reload that left the device alone.
      config: runner?.device ?? config,
      up: status?.up ?? false,
      error: status?.error ?? null,
      last: () => runner?.lastReadings() ?? [],
    };
  }

  private startDevice(device: DeviceConfig): void {
    const runner = new DeviceRunner({
      device, module: this.drivers.of(device), log: this.log, metrics: this.metrics, dataDir: this.config.gateway.data_dir,
      emit: this.commit, timerLate: this.lag.record,
    });
    this.runners.set(device.name, runner);
    runner.start();
  }

  /**
   * Readings → buffered messages: per poll batch as many as max_message_bytes needs (per_device,
   * in the configured JSON layout, stored as it will be sent), or one per reading (per_tag).
   * Readings stamped by the gateway's clock carry its flag and offset (reference §4.12); those
   * stamped by the device's own clock go in messages of their own, never flagged or corrected.
   */
  private readonly commit = (device: string, taken: Reading[]): void => {
    for (const { stamp, readings } of this.clock.stamp(taken)) this.store(device, readings, stamp);
  };

  private store(device: string, readings: readonly Reading[], { flag: clock, offset: wallOffset }: ClockStamp): void {
    if (this.config.mqtt.publish === 'per_tag') {
      for (const r of readings) {
        const { body, oversize } = encodeTagReadingWithin(r, this.budget.of(device, r.tag));
        if (oversize) this.tooLarge(device, [oversize]);
        this.buffer.append({ device, tag: r.tag, body, readings: 1, ts: r.ts, clock, wallOffset });
      }
      return;
    }
    const split = this.config.mqtt.json_layout === 'compact' ? splitCompact : splitReadings;
    const { parts, oversize } = split(readings, this.budget.of(device, null));
    if (oversize.length > 0) this.tooLarge(device, oversize);
    for (const p of parts) this.buffer.append({ device, tag: null, body: p.body, readings: p.readings, ts: p.ts, clock, wallOffset });
  }

  /** The clock is trusted (again): what this boot stamped untrusted and is still here gets its true ts. */
  private correct(offset: number): void {
    void this.buffer.restamp(offset, ClockFlag.unsynced, ClockFlag.corrected).then((corrected) => {
      if (corrected > 0) this.log.info({ messages: corrected }, `corrected the timestamps of ${corrected} buffered messages from the monotonic clock`);
    });
  }

  /** Values too large for any message went out as quality bad (encode.ts): counted, and said once per tag. */
  private tooLarge(device: string, oversize: readonly Oversize[]): void {
    this.metrics.dropped.inc({ reason: 'too_large' }, oversize.length);
    const limit = this.config.mqtt.max_message_bytes;
    for (const { tag, bytes } of oversize) {
      const key = `${device}/${tag}`;
      const level = this.tooLargeLogged.has(key) ? 'debug' : 'warn';
      this.tooLargeLogged.add(key);
      this.log[level]({ device, tag, bytes, max_message_bytes: limit },
        `${key}: a reading of ${bytes} bytes does not fit in a message of mqtt.max_message_bytes (${limit}) even alone: its value is dropped `
        + '(sent as value null, quality bad; counted in floorgate_dropped_total{reason="too_large"})');
    }
  }

  private refreshBufferGauges(): void {
    const stats = this.buffer.stats();
    this.metrics.bufferMessages.set(stats.messages);
    this.metrics.bufferBytes.set(stats.bytes);
    this.metrics.bufferOldestAge.set(stats.oldest_ts === null ? 0 : Math.max(0, (Date.now() - stats.oldest_ts) / 1000));
    this.metrics.clockSynchronized.set(this.clock.status().trusted ? 1 : 0);
  }
}

function sameConfig(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
