/**
 * The core of the config: everything except what is inside a device, which each driver's
 * own schema validates (handed to the loader with the registry, see load.ts).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import type { HttpConfig, LogLevel } from './types.js';
import { boolean, gatewayId, intIn, nonEmptyString, number, numberFromText } from './fields.js';
import { duration, size } from './units.js';
import { repr } from './words.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const satisfies readonly LogLevel[];
const MQTT_SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

/** A URL as a message may show it: credentials in it (user:password@) never are. */
function withoutCredentials(url: string): string {
  return url.replace(/^(?:([a-z][a-z0-9+.-]*:)\/\/)?.*@/i, (_m, scheme?: string) => `${scheme ? `${scheme}//` : ''}[redacted]@`);
}

/** `mqtt` as [mM][qQ][tT][tT]: a URL's scheme is case-insensitive, a JSON Schema pattern has no flags. */
const anyCase = (word: string) => word.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);
const MQTT_URL_PATTERN = `^(?:${MQTT_SCHEMES.map((s) => anyCase(s.slice(0, -1))).join('|')})://`;

const mqttUrl = z.string().superRefine((s, ctx) => {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    ctx.addIssue({ code: 'custom', input: s, message: `invalid URL ${repr(withoutCredentials(s))}: use e.g. mqtts://broker.plant.local:8883` });
    return;
  }
  if (!MQTT_SCHEMES.includes(url.protocol)) {
    ctx.addIssue({
      code: 'custom',
      input: s,
      message: `unsupported scheme "${url.protocol.slice(0, -1)}": use mqtt://, mqtts://, ws:// or wss://`,
    });
  }
}).meta({ pattern: MQTT_URL_PATTERN });

/** Sparkplug ids become topic levels: no separators, no wildcards. */
const sparkplugId = z.string().refine((s) => s.length > 0 && !/[/+#]/.test(s), {
  error: (iss) => `invalid Sparkplug id ${repr(iss.input)}: must be non-empty without /, + or #`,
  abort: true,
}).meta({ pattern: '^[^/+#]+$' });

const topicPrefix = z.string().refine((s) => s.length > 0 && !/[+#\0]/.test(s) && !s.startsWith('/') && !s.endsWith('/'), {
  error: (iss) => `invalid topic prefix ${repr(iss.input)}: no + or #, and no leading or trailing /`,
  abort: true,
}).meta({ pattern: String.raw`^[^/+#\u0000](?:[^+#\u0000]*[^/+#\u0000])?$` });

/**
 * Bounds the parts downstream set for themselves, handed to the loader as data: config is the
 * ground floor and imports nothing it configures.
 */
export interface ConfigLimits {
  /** The smallest buffer that has room for its own pages and a WAL share (src/buffer/budget.ts). */
  readonly minBufferBytes: number;
  /** mqtt.max_message_bytes: room for one reading (src/message/encode.ts) … the largest MQTT packet. */
  readonly minMessageBytes: number;
  readonly maxMessageBytes: number;
}

const mqtt = (limits: ConfigLimits) => z
  .strictObject({
    url: mqttUrl,
    /** Default: gateway.id. */
    client_id: nonEmptyString.optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    tls: z
      .strictObject({
        ca: nonEmptyString.optional(),
        cert: nonEmptyString.optional(),
        key: nonEmptyString.optional(),
        insecure: boolean.default(false),
      })
      .optional(),
    qos: z.preprocess(numberFromText, z.literal([0, 1, 2])).default(1),
    format: z.enum(['json', 'sparkplug_b']).default('json'),
    topic_prefix: topicPrefix.default('floorgate'),
    max_inflight: intIn(1, 65535).default(64),
    publish: z.enum(['per_device', 'per_tag']).default('per_device'),
    // readings by default: compact is another wire shape, and consumers parse today's.
    json_layout: z.enum(['readings', 'compact']).default('readings'),
    // 128 KB: AWS IoT Core refuses more (Azure IoT Hub 256 KB, EMQX 1 MB by default), and a
    // broker closes the connection on a packet over its limit. Counted as the whole PUBLISH.
    max_message_bytes: size(limits.minMessageBytes).refine((n) => n <= limits.maxMessageBytes, {
      error: (iss) => `must be at most ${limits.maxMessageBytes} bytes (the largest MQTT packet), got ${repr(iss.input)}`,
      abort: true,
    }).default(128_000),
    keepalive: duration('nonnegative').default(30_000),
    reconnect_min: duration().default(1000),
    reconnect_max: duration().default(60_000),
    sparkplug: z
      .strictObject({
        group_id: sparkplugId,
        /** Default: gateway.id. */
        edge_node_id: sparkplugId.optional(),
        primary_host_id: sparkplugId.optional(),
      })
      .optional(),
  })
  .superRefine((m, ctx) => {
    if (m.format === 'sparkplug_b' && m.sparkplug === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sparkplug'], message: 'format sparkplug_b needs sparkplug: {group_id: ...}' });
    }
    if (m.json_layout === 'compact' && m.format !== 'json') {
      ctx.addIssue({ code: 'custom', path: ['json_layout'], message: 'compact is a layout of format json; Sparkplug B has its own payload' });
    } else if (m.json_layout === 'compact' && m.publish !== 'per_device') {
      ctx.addIssue({ code: 'custom', path: ['json_layout'], message: 'compact groups the readings of per_device messages; a per_tag message holds one reading' });
    }
    if (m.reconnect_min > m.reconnect_max) {
      ctx.addIssue({ code: 'custom', path: ['reconnect_max'], message: 'must not be shorter than reconnect_min' });
    }
    if (m.password !== undefined && m.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'a password needs a username' });
    }
  });

const buffer = (limits: ConfigLimits) => z.strictObject({
  max_bytes: size(limits.minBufferBytes).default(512 * 2 ** 20),
  max_age: duration().default(7 * 86_400_000),
  when_full: z.enum(['drop_oldest', 'drop_newest']).default('drop_oldest'),
  sync: z.enum(['normal', 'full']).default('normal'),
  commit_interval: duration().default(100),
  replay: z.enum(['live_first', 'in_order']).default('live_first'),
  replay_rate: number.refine((n) => Number.isFinite(n) && n >= 0, {
    error: (iss) => `must be 0 (unlimited) or more messages per second, got ${repr(iss.input)}`,
    abort: true,
  }).meta({ minimum: 0 }).default(0),
});

const clock = z.strictObject({
  enabled: boolean.default(true),
  sync_source: z.string().refine((s) => s === 'kernel' || s.startsWith('/'), {
    error: (iss) => `must be kernel or an absolute file path, got ${repr(iss.input)}`,
    abort: true,
  }).meta({ pattern: '^(kernel|/.*)$' }).default('kernel'),
  step_threshold: duration().default(1000),
  check_interval: duration().default(5000),
});

const LISTEN_HINT = 'use HOST:PORT (e.g. 127.0.0.1:9102, [::1]:9102) or false';

const LISTEN_RE = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;

/** `HOST:PORT`, `[IPv6]:PORT` or false. Port 0 lets the OS pick (tests). */
const listen = z.unknown().meta({
  anyOf: [{ enum: [false, 'false'] }, { type: 'string', pattern: LISTEN_RE.source }],
}).transform((value, ctx): HttpConfig['listen'] => {
  if (value === false || value === 'false') return false;
  const m = typeof value === 'string' ? LISTEN_RE.exec(value) : null;
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', input: value, message: `invalid listen address ${repr(value)}: ${LISTEN_HINT}` });
    return z.NEVER;
  }
  const host = m[1] ?? m[2];
  if (m[1] !== undefined && isIP(host) !== 6) {
    ctx.addIssue({ code: 'custom', input: value, message: `invalid IPv6 address "${host}" in ${repr(value)}` });
    return z.NEVER;
  }
  return { host, port };
});

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

const http = z
  .strictObject({
    listen: listen.default({ host: '127.0.0.1', port: 9102 }),
    allow_remote: boolean.default(false),
  })
  .superRefine((h, ctx) => {
    if (h.listen !== false && !h.allow_remote && !isLoopback(h.listen.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen'],
        message: `${h.listen.host} is not a loopback address: set http.allow_remote: true to serve /metrics and /healthz (no authentication) beyond this host`,
      });
    }
  });

export const coreSchema = (limits: ConfigLimits) => z
  .strictObject({
    gateway: z.strictObject({
      id: gatewayId,
      /** Relative to the config file's directory (the loader resolves it). */
      data_dir: nonEmptyString.default('/var/lib/floorgate'),
    }),
    log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).prefault({}),
    mqtt: mqtt(limits),
    buffer: buffer(limits).prefault({}),
    http: http.prefault({}),
    clock: clock.prefault({}),
    /** Each device is validated by its driver's schema afterwards. */
    devices: z.array(z.looseObject({})),
  })
  .transform(({ mqtt: { sparkplug, ...mqtt }, ...c }) => ({
    ...c,
    mqtt: {
      ...mqtt,
      client_id: mqtt.client_id ?? c.gateway.id,
      sparkplug: sparkplug && { ...sparkplug, edge_node_id: sparkplug.edge_node_id ?? c.gateway.id },
    },
  }));

export type CoreConfig = z.output<ReturnType<typeof coreSchema>>;
