/**
 * The driver contract: the one interface between the core and a protocol. It names no protocol.
 *
 * A driver knows its protocol and nothing else. It never imports the buffer, the forwarder,
 * MQTT or HTTP; it returns readings and never decides when to poll (the scheduler does).
 * A protocol's folder (drivers/<protocol>/) exports one DriverModule, typed by the device its own
 * schema produces, so no driver casts its config; the registry (registry.ts) is the one place
 * where the modules of every protocol are held side by side.
 */
import type { ZodType } from 'zod';
import type { Logger } from 'pino';
import type { DeviceConfig, TagCommon } from '../config/types.js';

export type { DeviceCommon, DeviceConfig, TagCommon, ValueType } from '../config/types.js';

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
  /**
   * ts is the device's own clock (an OPC UA source or server timestamp), not the gateway's:
   * floorgate neither flags nor corrects it when its own clock is untrusted (reference §4.12).
   */
  readonly sourceTime?: true;
  /** Why the quality is not good, in words an operator can act on. */
  readonly error?: string;
}

/** The tags of one device that share a poll interval: read together, once per interval. */
export interface PollGroup<T extends TagCommon = TagCommon> {
  /** Stable within a device, e.g. "1000ms". */
  readonly key: string;
  readonly interval: number;
  readonly tags: readonly T[];
}

export type Unsubscribe = () => Promise<void>;

/** The tag type of a device type. */
export type TagOf<D extends DeviceConfig> = D['tags'][number];

/**
 * Life cycle: create() → connect() → read()/subscribe()/write() … → close(). When read() rejects
 * (connection lost) the scheduler calls close(), waits its backoff, and calls connect() again on
 * the same instance, so what a driver has learnt about its device (e.g. split plans) survives.
 */
export interface Driver<T extends TagCommon = TagCommon> {
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
  read(group: PollGroup<T>, signal: AbortSignal): Promise<Reading[]>;
  /** Push-style sources (OPC UA subscriptions, listen-only serial). */
  subscribe?(tags: readonly T[], emit: (readings: Reading[]) => void): Promise<Unsubscribe>;
  /** Encode and write one value; resolves once the device confirmed it, rejects with its answer. */
  write?(tag: T, value: unknown, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** What the core lends a driver. */
export interface DriverContext {
  /** Already bound to the device (`device` on every line): a driver adds no second `device` key. */
  readonly log: Logger;
  /** Counts requests sent to the device (floorgate_device_requests_total{device,driver}). */
  readonly countRequest: (n?: number) => void;
  /** gateway.data_dir, for drivers that keep state (OPC UA's PKI). */
  readonly dataDir: string;
  /**
   * Reports the fraction of the last few seconds a shared serial line was busy with frames
   * (floorgate_serial_line_busy_ratio{port}). One narrow callback rather than a way to mint
   * metrics: the metric's name and meaning stay in the core's contract (reference §5). Keyed by
   * port, not bound to this device, because the line outlives any one device on it.
   */
  readonly serialLineBusy?: (port: string, ratio: number) => void;
}

/** One line of `floorgate check --plan`. */
export interface PlanLine {
  readonly text: string;
}

/**
 * What the devices sharing one physical line ask of it. plan() sees one device; a line's
 * figure needs all of them, so it is a capability of its own.
 */
export interface LineLoad {
  /** The line: a serial port's path, as in floorgate_serial_line_busy_ratio{port}. */
  readonly line: string;
  /** How `floorgate check` names it: the line and its settings. */
  readonly title: string;
  /** The devices on it, by name. */
  readonly devices: readonly string[];
  /** Its time on the line, one line per poll interval. */
  readonly plan: PlanLine[];
  /** Fraction of the line's time the configured polls need; above 1 they cannot all be kept. */
  readonly load: number;
}

/** A simulated device running on its own (`floorgate sim`, `floorgate demo`, tests). */
export interface RunningSimulator {
  /** Where it serves: host:port, or the serial path. */
  readonly where: string;
  /** The TCP port for network simulators (0 asked = the one picked). */
  readonly port?: number;
  /** Requests served (lines sent, for an instrument that talks on its own). */
  requests(): number;
  close(): Promise<void>;
}

export interface SimulatorOptions {
  host: string;
  /** 0 = a free port. */
  port: number;
  unitId?: number;
  /** A register map / address space file; absent = the built-in demo map. */
  config?: string;
}

export interface LineSimulatorOptions {
  /** A serial path: a pty end from `socat`, or a real port. */
  path: string;
  baudRate?: number;
  /** Modbus RTU: the unit ids answered. */
  units?: number[];
  /** A register map file; absent = the built-in demo map. */
  config?: string;
}

/** `floorgate sim NAME`: a simulated device on a TCP port. Loads its stack only when started. */
export interface NetworkSimulator {
  /** The word after `floorgate sim`. */
  readonly name: string;
  readonly defaultPort: number;
  start(opts: SimulatorOptions): Promise<RunningSimulator>;
}

/** `floorgate sim NAME --path P` (or --rtu P): a simulated device on a serial line. */
export interface LineSimulator {
  readonly name: string;
  start(opts: LineSimulatorOptions): Promise<RunningSimulator>;
}

/** One row of `floorgate browse`. */
export interface BrowseRow {
  node_id: string;
  /** Indented by depth. */
  browse_name: string;
  node_class: string;
  data_type: string;
  value: string;
}

export interface BrowseListing {
  readonly rows: BrowseRow[];
  /** The listing was cut short: browse a deeper node. */
  readonly truncated: boolean;
}

/**
 * A driver's registration. Loading the module that holds this must be cheap: the heavy
 * protocol stack is imported inside create() (and the capabilities) so it costs nothing when no
 * such device is configured. Methods, not function properties: a DriverModule<SerialDevice>
 * then stands in the registry's list of DriverModule, which hands each its own devices only.
 */
export interface DriverModule<D extends DeviceConfig = DeviceConfig> {
  /** The `driver:` value in the config. */
  readonly name: string;
  /**
   * Validates one raw device mapping (already env-substituted, without tag defaults applied)
   * and returns the normalised device. Unknown keys must be rejected (strict objects).
   */
  readonly schema: ZodType<D>;
  /**
   * The common case of `schema`, for devices of many thousands of tags: exactly what `schema`
   * gives for a mapping it takes, undefined for anything else (which `schema` then validates
   * and words the problems of).
   */
  parseQuickly?(raw: Readonly<Record<string, unknown>>): D | undefined;
  create(device: D, ctx: DriverContext): Promise<Driver<TagOf<D>>>;
  /** Tags with mode subscribe (OPC UA) or a listen-only line go to subscribe(), not read(). */
  isPushTag?(device: D, tag: TagOf<D>): boolean;
  /** Where a tag lives on the device, for `floorgate probe` (e.g. "holding 100", a node id). */
  address?(tag: TagOf<D>): string;
  /**
   * `floorgate probe`, when the device connected but not one tag could be read: the usual
   * causes with this protocol, in the operator's words.
   */
  noReadingHint?(device: D): string;
  /** `floorgate check --plan`: the requests per cycle, one line each. */
  plan?(device: D): PlanLine[];
  /** `floorgate check --plan` and the status page: the load of each line these devices share. */
  lineLoads?(devices: readonly D[]): LineLoad[];
  /** `floorgate browse`: the device's address space below a node (the top when absent). */
  browse?(device: D, opts: { dataDir: string; log: Logger; node?: string }): Promise<BrowseListing>;
  readonly simulator?: NetworkSimulator;
  readonly lineSimulator?: LineSimulator;
}
