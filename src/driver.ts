/**
 * The driver contract: the one interface between the core and a protocol.
 *
 * A driver knows its protocol and nothing else. It never imports the buffer, the forwarder,
 * MQTT or HTTP; it returns readings and never decides when to poll (the scheduler does).
 */
import type { ZodType } from 'zod';
import type { Logger } from 'pino';
import type { DeviceConfig, TagConfig } from './config/types.js';

export type Quality = 'good' | 'bad' | 'uncertain';

/** A decoded value. 64-bit integers beyond ±2^53−1 are bigints; arrays come from OPC UA. */
export type Value = boolean | number | bigint | string | null | readonly (boolean | number | string | null)[];

export interface Reading {
  readonly tag: string;
  /** null whenever quality is bad. */
  readonly value: Value;
  readonly quality: Quality;
  /** Wall-clock epoch ms when read (or the source timestamp the device gave). */
  readonly ts: number;
  /** Why the quality is not good, in words an operator can act on. */
  readonly error?: string;
}

/** The tags of one device that share a poll interval: read together, once per interval. */
export interface PollGroup {
  /** Stable within a device, e.g. "1000ms". */
  readonly key: string;
  readonly interval: number;
  readonly tags: readonly TagConfig[];
}

export type Unsubscribe = () => Promise<void>;

/**
 * Life cycle: create() → connect() → read()/subscribe()/write() … → close(). When read() rejects
 * (connection lost) the scheduler calls close(), waits its backoff, and calls connect() again on
 * the same instance, so what a driver has learnt about its device (e.g. split plans) survives.
 */
export interface Driver {
  /**
   * Open the connection. Rejects on failure (with an Error whose message says why); the
   * scheduler retries with capped exponential backoff and marks the device's tags bad meanwhile.
   */
  connect(signal: AbortSignal): Promise<void>;
  /**
   * Read one planned group. Never throws for a device-level error (timeout, exception response,
   * garbage frame): it returns bad readings with an error string for the tags concerned. It
   * rejects only when the connection itself is lost, which sends the scheduler back to connect().
   */
  read(group: PollGroup, signal: AbortSignal): Promise<Reading[]>;
  /** Push-style sources (OPC UA subscriptions, listen-only serial). */
  subscribe?(tags: readonly TagConfig[], emit: (readings: Reading[]) => void): Promise<Unsubscribe>;
  /** Encode and write one value; resolves once the device confirmed it, rejects with its answer. */
  write?(tag: TagConfig, value: unknown, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** What the core lends a driver. */
export interface DriverContext {
  readonly log: Logger;
  /** Counts protocol requests sent (floorgate_modbus_requests_total and friends). */
  readonly countRequest: (n?: number) => void;
  /** gateway.data_dir, for drivers that keep state (OPC UA's PKI). */
  readonly dataDir: string;
}

/** One line of `floorgate check --plan`. */
export interface PlanLine {
  readonly text: string;
}

/**
 * A driver's registration. Loading the module that holds this must be cheap: the heavy
 * protocol stack is imported inside create() so it costs nothing when no such device is configured.
 */
export interface DriverModule {
  /** The `driver:` value in the config. */
  readonly name: string;
  /**
   * Validates one raw device mapping (already env-substituted, without tag defaults applied)
   * and returns the normalised DeviceConfig. Unknown keys must be rejected (strict objects).
   */
  readonly schema: ZodType<DeviceConfig>;
  /** Tags with mode subscribe (OPC UA) or a listen-only line go to subscribe(), not read(). */
  readonly isPushTag?: (device: DeviceConfig, tag: TagConfig) => boolean;
  create(device: DeviceConfig, ctx: DriverContext): Promise<Driver>;
  /** Where a tag lives on the device, for `floorgate probe` (e.g. "holding 100", a node id). */
  address?(tag: TagConfig): string;
  /** `floorgate check --plan`: the requests per cycle, one line each. */
  plan?(device: DeviceConfig): PlanLine[];
}
