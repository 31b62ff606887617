/**
 * Write commands in the JSON format (reference §5), a part of every MQTT connection.
 *
 *   request  `{prefix}/{gateway}/{device}/{tag}/set`         (subscribed at QoS 1)
 *            payload: the value as JSON (`21.5`, `true`, `"AB"`, `"18446744073709551615"` for a
 *            64-bit value beyond 2^53), or an object `{"value": …, "id": …}` whose optional id
 *            (a string or a number) is echoed in its result for correlation, refusals included.
 *   result   `{prefix}/{gateway}/{device}/{tag}/set/result`  (QoS 1, not retained)
 *            `{"ok":true,"value":…,"ts":…[,"id":…]}` or `{"ok":false,"error":"…","ts":…[,"id":…]}`
 *
 * Refused before anything reaches the device, with an error result: a retained message (a
 * command left on the broker must not fire again at every reconnect), a payload over
 * MAX_COMMAND_BYTES, one that is not JSON, and everything Commands refuses (rate limit, unknown
 * or non-writable tag, wrong type, out of range).
 */
import type { FloorgateConfig } from '../config/types.js';
import { MAX_COMMAND_BYTES, type Link, type SessionPart } from '../forward/format.js';
import { RATE_LIMITED, type Commands, type WriteOutcome } from './commands.js';

type Id = string | number;

export class JsonCommands implements SessionPart {
  private readonly base: string;
  private link: Link | null = null;

  constructor(config: FloorgateConfig, private readonly commands: Commands) {
    this.base = `${config.mqtt.topic_prefix}/${config.gateway.id}/`;
  }

  open(link: Link): void {
    this.link = link;
    link.subscribe([`${this.base}+/+/set`]);
  }

  closed(): void {
    this.link = null;
  }

  message(topic: string, payload: Buffer, retained: boolean): void {
    if (!topic.startsWith(this.base) || !topic.endsWith('/set')) return;
    const levels = topic.slice(this.base.length).split('/');
    if (levels.length !== 3) return;
    const [device, tag] = levels;
    const link = this.link;
    if (!link) return;
    // Read first, so every answer (a rate-limit refusal too) carries the command's id.
    const request = payload.length > MAX_COMMAND_BYTES ? null : parseRequest(payload.toString('utf8'));
    const answer = (outcome: WriteOutcome) => {
      link.publish({ topic: `${topic}/result`, payload: resultText(outcome, request?.id), qos: 1, retain: false });
    };
    const fields = { device, tag, source: 'mqtt' };

    // An empty retained message is how a retained command is cleared: no answer, no count.
    if (retained && payload.length === 0) return;
    if (!this.commands.admit()) return answer({ ok: false, refused: true, error: RATE_LIMITED });
    if (retained) {
      return answer(this.commands.refuse(fields, 'retained write commands are ignored (they would fire again at every reconnect); clear it with an empty retained message'));
    }
    if (!request) {
      return answer(this.commands.refuse(fields, `payload of ${payload.length} bytes exceeds the ${MAX_COMMAND_BYTES}-byte limit`));
    }
    if ('error' in request) return answer(this.commands.refuse(fields, request.error));
    void this.commands.write(device, tag, request.value, 'mqtt').then(answer);
  }
}

/** The payload's value, or why it has none; its id either way, when it names one. */
type Request = { id?: Id } & ({ value: unknown } | { error: string });

function parseRequest(text: string): Request {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { error: 'payload is not JSON: send the value (e.g. 21.5, true, "text") or {"value": …, "id": …}' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { value: body };
  const { value, id } = body as Record<string, unknown>;
  const keep = (typeof id === 'string' && id.length <= 256) || (typeof id === 'number' && Number.isFinite(id));
  const ids = keep ? { id: id as Id } : {};
  if (value === undefined) return { ...ids, error: 'an object payload needs a "value" member: {"value": …, "id": …}' };
  return { ...ids, value };
}

function resultText(outcome: WriteOutcome, id: Id | undefined): string {
  const out: Record<string, unknown> = outcome.ok
    ? { ok: true, value: typeof outcome.value === 'bigint' ? outcome.value.toString() : outcome.value }
    : { ok: false, error: outcome.error };
  out.ts = Date.now();
  if (id !== undefined) out.id = id;
  return JSON.stringify(out);
}
