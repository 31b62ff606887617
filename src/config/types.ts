/**
 * The validated, normalised configuration: what the rest of floorgate consumes.
 *
 * Keys keep their YAML spelling so an error's key path, the docs and the code all say the same
 * thing. Values are normalised: every duration is a number of milliseconds, every size a number
 * of bytes, secrets read from their files, and device-level defaults (poll_interval, byte_order,
 * heartbeat, deadband) copied down onto each tag. The loader deep-freezes the result.
 */

export type ByteOrder = 'ABCD' | 'BADC' | 'CDAB' | 'DCBA';
export type ModbusArea = 'holding' | 'input' | 'coil' | 'discrete';
export type ModbusTagType =
  | 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'float32' | 'float64' | 'string';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Keys every tag has, whatever its driver. */
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
}

export interface ModbusTag extends TagCommon {
  readonly area: ModbusArea;
  /** 0-based protocol address within the area. */
  readonly address: number;
  readonly type: ModbusTagType;
  /** 0–15, 0 = least significant; only with type bool on holding/input registers. */
  readonly bit?: number;
  /** Registers, for type string. */
  readonly length?: number;
  /** The tag's own or its device's. */
  readonly byte_order: ByteOrder;
}

export interface OpcuaTag extends TagCommon {
  readonly node_id: string;
  readonly mode: 'subscribe' | 'poll';
  /** ms, subscribe mode. */
  readonly sampling_interval: number;
  readonly queue_size: number;
}

export interface SerialTag extends TagCommon {
  /** Named group of the device's pattern. */
  readonly group: string;
  readonly type: 'string' | 'float64' | 'int64' | 'bool';
}

export type TagConfig = ModbusTag | OpcuaTag | SerialTag;

interface DeviceCommon {
  readonly name: string;
  readonly driver: string;
  /** ms */
  readonly poll_interval: number;
  /** ms: one request's limit. */
  readonly timeout: number;
  readonly heartbeat?: number;
  readonly deadband?: number;
}

interface ModbusDeviceCommon extends DeviceCommon {
  readonly unit_id: number;
  readonly byte_order: ByteOrder;
  /** Registers per FC03/FC04 read, 1–125. */
  readonly max_registers_per_read: number;
  /** Bits per FC01/FC02 read, 1–2000. */
  readonly max_bits_per_read: number;
  /** Registers (or bits) read over and discarded to merge two blocks. */
  readonly max_gap: number;
  readonly tags: readonly ModbusTag[];
}

export interface ModbusTcpDevice extends ModbusDeviceCommon {
  readonly driver: 'modbus_tcp';
  readonly host: string;
  readonly port: number;
}

export interface SerialLine {
  /** Device path, e.g. /dev/ttyUSB0. */
  readonly port: string;
  readonly baud_rate: number;
  readonly parity: 'none' | 'even' | 'odd';
  readonly data_bits: 7 | 8;
  readonly stop_bits: 1 | 2;
}

export interface ModbusRtuDevice extends ModbusDeviceCommon, SerialLine {
  readonly driver: 'modbus_rtu';
}

export interface OpcuaDevice extends DeviceCommon {
  readonly driver: 'opcua';
  readonly endpoint: string;
  readonly security_mode: 'None' | 'Sign' | 'SignAndEncrypt';
  readonly security_policy: 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss';
  readonly username?: string;
  readonly password?: string;
  /** Default {gateway.data_dir}/pki. */
  readonly pki_dir: string;
  /** Trust an unknown server certificate the first time it is seen. Off by default. */
  readonly trust_on_first_use: boolean;
  readonly tags: readonly OpcuaTag[];
}

export interface SerialDevice extends DeviceCommon, SerialLine {
  readonly driver: 'serial';
  readonly delimiter: string;
  /** Source of a regular expression with named groups. */
  readonly pattern: string;
  /** Written every poll_interval for instruments that must be asked; absent = listen only. */
  readonly request?: string;
  readonly tags: readonly SerialTag[];
}

export type DeviceConfig = ModbusTcpDevice | ModbusRtuDevice | OpcuaDevice | SerialDevice;

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
  /** bytes: the largest PUBLISH packet; a poll's readings are split under it (src/forward/encode.ts). */
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
  readonly devices: readonly DeviceConfig[];
}
