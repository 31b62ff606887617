/**
 * Writes to PLCs, whatever the wire format they arrived in (JSON `…/set` or Sparkplug DCMD).
 *
 * The safety rules live here, in one place:
 * - only tags with `writable: true` are written; unknown devices and tags are refused;
 * - the value is type-checked against the tag before it is queued (the driver then checks the
 *   range and encodes it);
 * - at most RATE commands per second per gateway (bursts of RATE); the excess is refused;
 * - the write is queued on the device's own queue, between its polls (DeviceRunner.write);
 * - commands come only from live MQTT messages: nothing in the buffer ever becomes a write.
 * Every refusal and failure is logged with the device, the tag and the reason, and counted in
 * `floorgate_write_commands_total{result}` (ok | refused | failed).
 */
import type { Logger } from 'pino';
import type { TagCommon } from '../config/types.js';
import type { Value } from '../driver/contract.js';
import type { CommandSink } from '../forward/format.js';
import { RateLimit } from '../forward/rate-limit.js';
import type { Counter, Registry } from '../metrics/registry.js';
import { checkWriteValue } from './value.js';

/** Commands per second per gateway, and the burst allowed. */
export const COMMAND_RATE = 10;
export const RATE_LIMITED = `rate limit: more than ${COMMAND_RATE} write commands per second`;

/** What commands need from the runtime. */
export interface WriteTarget {
  /** The device's configured tags, or undefined when no such device runs. */
  tagsOf(device: string): readonly TagCommon[] | undefined;
  /** Queues the write on the device and resolves once the device confirmed it. */
  write(device: string, tag: string, value: Value): Promise<void>;
}

export type WriteOutcome =
  | { readonly ok: true; readonly tag: TagCommon; readonly value: Value }
  /** refused: never reached the device (unknown, not writable, wrong type, out of range, flood). */
  | { readonly ok: false; readonly refused: boolean; readonly error: string };

export interface CommandsOptions {
  readonly target: WriteTarget;
  readonly log: Logger;
  /** Registers floorgate_write_commands_total here (the runtime's metrics registry). */
  readonly registry?: Registry;
}

export class Commands implements CommandSink {
  private readonly target: WriteTarget;
  private readonly log: Logger;
  private readonly rate = new RateLimit(COMMAND_RATE, COMMAND_RATE);
  private readonly counter?: Counter<'result'>;
  private floodLoggedAt = -Infinity;

  constructor(opts: CommandsOptions) {
    this.target = opts.target;
    this.log = opts.log;
    this.counter = opts.registry?.counter({
      name: 'floorgate_write_commands_total', help: 'Write commands received, by result (ok, refused, failed)', labelNames: ['result'],
    });
  }

  /**
   * Takes one command from the rate limit: every command counts, refused ones too, so a flood
   * of garbage cannot crowd out the device queue or the log. False (counted as refused, logged
   * once per few seconds) when over the limit; the caller answers with RATE_LIMITED.
   */
  admit(): boolean {
    if (this.rate.take()) return true;
    this.counter?.inc({ result: 'refused' });
    const now = Date.now();
    if (now - this.floodLoggedAt > 5_000) {
      this.floodLoggedAt = now;
      this.log.warn(`write commands refused: more than ${COMMAND_RATE} per second`);
    }
    return false;
  }

  /** Checks and performs one admitted write; never rejects. `source` names the channel for the log. */
  async write(device: string, tagName: string, value: unknown, source: string): Promise<WriteOutcome> {
    const fields = { device, tag: tagName, source };
    const tags = this.target.tagsOf(device);
    const tag = tags?.find((t) => t.name === tagName);
    let error: string | undefined;
    if (tags === undefined) error = `unknown device "${device}"`;
    else if (!tag) error = `device ${device} has no tag "${tagName}"`;
    else if (!tag.writable) error = `tag ${device}/${tagName} is not writable (it needs writable: true)`;
    let checked: Value = null;
    if (error === undefined) {
      try {
        checked = checkWriteValue(tag!, value);
      } catch (err) {
        error = (err as Error).message;
      }
    }
    if (error !== undefined) return this.refuse(fields, error);
    try {
      await this.target.write(device, tagName, checked);
    } catch (err) {
      const message = (err as Error).message;
      // The driver's own checks (range, read-only area) throw these before anything is sent.
      const refused = err instanceof RangeError || err instanceof TypeError;
      this.log.warn({ ...fields, error: message }, `write ${refused ? 'refused' : 'failed'}: ${message}`);
      this.counter?.inc({ result: refused ? 'refused' : 'failed' });
      return { ok: false, refused, error: message };
    }
    this.log.info({ ...fields, value: typeof checked === 'bigint' ? checked.toString() : checked }, 'write done');
    this.counter?.inc({ result: 'ok' });
    return { ok: true, tag: tag!, value: checked };
  }

  /** A command refused before it could become a write: logged and counted. */
  refuse(fields: Readonly<Record<string, unknown>>, error: string): WriteOutcome & { ok: false } {
    this.log.warn({ ...fields, error }, `command refused: ${error}`);
    this.counter?.inc({ result: 'refused' });
    return { ok: false, refused: true, error };
  }
}
