/**
 * The validated, normalised configuration: what the rest of floorgate consumes.
 *
 * Keys keep their YAML spelling so an error's key path, the docs and the code all say the same
 * thing. Values are normalised: every duration is a number of milliseconds, every size a number
 * of bytes, secrets read from their files, and device-level defaults (poll_interval, byte_order,
 * heartbeat, deadband) copied down onto each tag. The loader deep-freezes the result.
 */

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A tag's value type, when its config decides one (Modbus, serial). Sparkplug datatypes and the
 * checks of written values follow it; tags without one (OPC UA) are typed by their values.
 */
export type ValueType =
  | 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'float32' | 'float64' | 'string';

/** Keys every tag has, whatever its driver. A driver's schema adds its own (drivers/<protocol>/schema.ts). */
export interface TagCommon {
  readonly name: string;
  /** ms; the tag's own or its device's. */
  readonly poll_interval: number;
  /** value = raw * scale + offset (numeric types only). */
  readonly scale: number;
  readonly offset: number;
  /** Report by exception: absent = publish every poll; 0 = publish on any change. */
  readonly deadband?: number;
  /** ms; republish an unchanged value at least this often (with a deadband). */
  readonly heartbeat?: number;
  readonly writable: boolean;
  readonly type?: ValueType;
}

/** Keys every device has, whatever its driver. */
export interface DeviceCommon {
  readonly name: string;
  readonly driver: string;
  /** ms */
  readonly poll_interval: number;
  /** ms: one request's limit. */
  readonly timeout: number;
  readonly heartbeat?: number;
  readonly deadband?: number;
}

/** A device as the core sees it: open to every driver, which narrows it with its own schema. */
export type DeviceConfig = DeviceCommon & { readonly tags: readonly TagCommon[] };

/** An RS-232/485 line: Modbus RTU devices and raw serial instruments. */
export interface SerialLine {
  /** Device path, e.g. /dev/ttyUSB0. */
  readonly port: string;
  readonly baud_rate: number;
  readonly parity: 'none' | 'even' | 'odd';
  readonly data_bits: 7 | 8;
  readonly stop_bits: 1 | 2;
}

export interface MqttConfig {
  readonly url: string;
  readonly client_id: string;
  readonly username?: string;
  readonly password?: string;
  readonly tls?: {
    /** File paths, read when connecting. */
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
    /** Skip server certificate verification (logged as a warning at every start). */
    readonly insecure: boolean;
  };
  readonly qos: 0 | 1 | 2;
  readonly format: 'json' | 'sparkplug_b';
  readonly topic_prefix: string;
  readonly max_inflight: number;
  readonly publish: 'per_device' | 'per_tag';
  /** per_device JSON messages: `readings` (one object per reading) or `compact` (src/message/compact.ts). */
  readonly json_layout: 'readings' | 'compact';
  /** bytes: the largest PUBLISH packet; a poll's readings are split under it (src/message/encode.ts). */
  readonly max_message_bytes: number;
  /** ms */
  readonly keepalive: number;
  /** ms: first reconnect delay; doubles up to reconnect_max. */
  readonly reconnect_min: number;
  readonly reconnect_max: number;
  readonly sparkplug?: {
    readonly group_id: string;
    readonly edge_node_id: string;
    readonly primary_host_id?: string;
  };
}

export interface BufferConfig {
  /** bytes */
  readonly max_bytes: number;
  /** ms */
  readonly max_age: number;
  readonly when_full: 'drop_oldest' | 'drop_newest';
  readonly sync: 'normal' | 'full';
  /** ms */
  readonly commit_interval: number;
  readonly replay: 'live_first' | 'in_order';
  /** messages per second, 0 = unlimited */
  readonly replay_rate: number;
}

export interface ClockConfig {
  /** false: every reading is taken as stamped by a trusted clock, as before this check existed. */
  readonly enabled: boolean;
  /** `kernel` (adjtimex) or the absolute path of a file saying `synchronised` or `unsynchronised`. */
  readonly sync_source: string;
  /** ms the wall clock may move against the monotonic clock before it counts as a step. */
  readonly step_threshold: number;
  /** ms between looks at the sync source. */
  readonly check_interval: number;
}

export interface HttpConfig {
  /** false = no HTTP listener. */
  readonly listen: false | { readonly host: string; readonly port: number };
  readonly allow_remote: boolean;
}

export interface FloorgateConfig {
  /** Absolute path of the file this was loaded from. */
  readonly source: string;
  readonly gateway: { readonly id: string; readonly data_dir: string };
  readonly log: { readonly level: LogLevel };
  readonly mqtt: MqttConfig;
  readonly buffer: BufferConfig;
  readonly http: HttpConfig;
  readonly clock: ClockConfig;
  readonly devices: readonly DeviceConfig[];
}
