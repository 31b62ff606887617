/**
 * The wire formats by mqtt.format, as MQTT.js keys its transports by protocol: the runtime asks
 * for the configured one and names none. A format's code loads only when it is chosen: the
 * Sparkplug schema (protobufjs) costs memory a JSON gateway need not pay.
 */
import type { Logger } from 'pino';
import type { FloorgateConfig, MqttConfig } from '../config/types.js';
import type { Metrics } from '../metrics.js';
import { VERSION } from '../package-info.js';
import type { CommandSink, WireFormat } from './format.js';
import { JsonFormat } from './json-format.js';
import type { DeviceSource } from './sparkplug-format.js';

/** What a format may use of the runtime. */
export interface FormatContext {
  readonly config: FloorgateConfig;
  readonly log: Logger;
  /** The buffer's stream id (MessageStore.epoch). */
  readonly epoch: string;
  /** The devices as they run, for formats that announce them (Sparkplug births). */
  readonly devices: DeviceSource;
  /** Where a format that hears write commands itself hands them. */
  readonly commands: CommandSink;
  readonly metrics?: Metrics;
}

export interface ChosenFormat {
  readonly format: WireFormat;
  /** The format hears write commands itself (Sparkplug DCMD); otherwise they come on the …/set topics. */
  readonly hearsCommands: boolean;
}

const FORMATS: Readonly<Record<MqttConfig['format'], (ctx: FormatContext) => Promise<ChosenFormat>>> = {
  json: async (ctx) => ({ format: new JsonFormat(ctx.config, VERSION, ctx.epoch), hearsCommands: false }),
  sparkplug_b: async (ctx) => {
    const { SparkplugFormat } = await import('./sparkplug-format.js');
    const format = new SparkplugFormat({
      config: ctx.config, log: ctx.log, source: ctx.devices, commands: ctx.commands, metrics: ctx.metrics, epoch: ctx.epoch,
    });
    return { format, hearsCommands: true };
  },
};

export function createFormat(ctx: FormatContext): Promise<ChosenFormat> {
  return FORMATS[ctx.config.mqtt.format](ctx);
}
