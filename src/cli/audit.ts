/**
 * `floorgate audit`: the receiving side's proof of completeness (reference §1, §3). Subscribes to the
 * gateways' data topics at QoS 1, feeds every message to an AuditSession, prints a line per
 * gateway every few seconds, and a final report on SIGINT/SIGTERM or after --duration.
 * Exit 0 when no gap is open at the end, 1 when one is — missing, or not observed because the
 * audit itself lost its session — (or the broker could not be used), 64 on a usage error.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { AuditSession, type AuditReport } from '../audit/completeness.js';
import { formatFinal, formatLiveLine } from '../audit/format.js';
import { openSubscription } from '../audit/subscription.js';
import { sparkplugDecoder, sparkplugTopics } from '../audit/sparkplug.js';
import { parseDuration } from '../config/units.js';
import { EXIT } from './exit.js';

export interface AuditOptions {
  readonly url: string;
  /** mqtt.topic_prefix of the gateways audited (JSON format). */
  readonly prefix: string;
  /** The gateways' mqtt.format; with sparkplug_b the gateways are edge node ids. Default json. */
  readonly format?: 'json' | 'sparkplug_b';
  /** Only these gateway ids; empty: every gateway under the prefix. */
  readonly gateways: readonly string[];
  /** ms; absent: until SIGINT/SIGTERM (or `signal`). */
  readonly duration?: number;
  readonly json: boolean;
  /** Default: defaultClientId(). */
  readonly clientId?: string;
  readonly out: (s: string) => void;
  /** Diagnostics (connection trouble); default stderr. */
  readonly err?: (s: string) => void;
  /** First seq expected from every gateway; default: the first that arrives. */
  readonly since?: number;
  /** ms between live lines (and onTick calls); default 5000. */
  readonly interval?: number;
  /** Called every `interval` ms, in --json mode too, with the running report. */
  readonly onTick?: (report: AuditReport, link: { connected: boolean; subscribed: boolean }) => void;
  /** Ends the audit like SIGINT does. */
  readonly signal?: AbortSignal;
}

/** What --json prints: the report plus how the run went. */
export interface AuditResult extends AuditReport {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly topics: readonly string[];
  /** The MQTT client id, whose session on the broker the audit keeps. */
  readonly clientId: string;
  /** Whether the broker accepted the connection at least once. */
  readonly connected: boolean;
  /** Why the audit could not do its job (refused connection or subscription), else null. */
  readonly error: string | null;
}

const LIVE_INTERVAL_MS = 5_000;
const GATEWAY_ID = /^[A-Za-z0-9_-]+$/;
const SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:']);

export async function runAudit(opts: AuditOptions): Promise<number> {
  const err = opts.err ?? ((s: string) => process.stderr.write(`${s}\n`));
  const problem = usageProblem(opts);
  if (problem !== null) {
    err(`floorgate audit: ${problem}`);
    return EXIT.usage;
  }

  const sparkplug = opts.format === 'sparkplug_b';
  const session = new AuditSession({
    prefix: opts.prefix,
    gateways: opts.gateways,
    tracker: opts.since === undefined ? {} : { since: opts.since },
    ...(sparkplug ? { decoder: sparkplugDecoder() } : {}),
  });
  const topics = sparkplug ? sparkplugTopics(opts.gateways)
    : opts.gateways.length > 0 ? opts.gateways.map((g) => `${opts.prefix}/${g}/#`) : [`${opts.prefix}/+/#`];
  const startedAt = Date.now();
  let error: string | null = null;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });

  const clientId = opts.clientId ?? defaultClientId(topics);
  const sub = openSubscription({
    url: opts.url,
    clientId,
    topics,
    onMessage: (topic, payload) => { session.observe(topic, payload, Date.now()); },
    onNote: (text) => err(`floorgate audit: ${text}`),
    onRefused: (reason) => {
      error ??= reason;
      finish();
    },
    onLost: (at) => {
      session.linkLost(at);
      err('floorgate audit: connection to the broker lost, reconnecting');
    },
    onRestored: (at, sessionResumed) => {
      session.linkRestored(at, sessionResumed);
      err(`floorgate audit: reconnected, ${sessionResumed ? 'the broker kept our session: nothing published meanwhile is missed'
        : 'but the broker lost our session: what was published meanwhile is not observed'}`);
    },
  });

  const previous = new Map<string, { messages: number; at: number }>();
  const ticker = setInterval(() => {
    const now = Date.now();
    const report = session.report(now);
    opts.onTick?.(report, { connected: sub.connected, subscribed: sub.subscribed });
    if (opts.json) return;
    const names = Object.keys(report.gateways);
    if (names.length === 0) opts.out(`waiting for data on ${topics.join(', ')}${sub.connected ? '' : ' (not connected)'}`);
    for (const name of names) {
      const r = report.gateways[name];
      const before = previous.get(name) ?? { messages: 0, at: startedAt };
      previous.set(name, { messages: r.messages, at: now });
      opts.out(formatLiveLine(name, r, ((r.messages - before.messages) * 1000) / Math.max(1, now - before.at)));
    }
  }, opts.interval ?? LIVE_INTERVAL_MS);
  const timer = opts.duration === undefined ? undefined : setTimeout(finish, opts.duration);
  const onSignal = () => finish();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  opts.signal?.addEventListener('abort', onSignal, { once: true });
  if (opts.signal?.aborted) finish();

  await finished;
  clearInterval(ticker);
  clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  opts.signal?.removeEventListener('abort', onSignal);
  await sub.close();

  const endedAt = Date.now();
  if (!sub.everConnected) error ??= 'never connected to the broker';
  const result: AuditResult = { ...session.report(endedAt), startedAt, endedAt, topics, clientId, connected: sub.everConnected, error };
  if (error !== null) err(`floorgate audit: ${error}`);
  opts.out(opts.json ? JSON.stringify(result) : formatFinal(result, endedAt - startedAt));
  return error === null && result.complete ? EXIT.ok : EXIT.failure;
}

/**
 * The same on every run from this host for the same topics, so a restarted audit finds its
 * session's name again; different topics (prefix, format, gateways) get a different one, so
 * two audits on one host do not take over each other's session.
 */
export function defaultClientId(topics: readonly string[]): string {
  const host = os.hostname().replace(/[^A-Za-z0-9_-]/g, '-');
  return `floorgate-audit-${host}-${createHash('sha256').update(topics.join('\n')).digest('hex').slice(0, 8)}`;
}

function usageProblem(opts: AuditOptions): string | null {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    return `--url: "${opts.url}" is not a URL (e.g. mqtt://broker:1883)`;
  }
  if (!SCHEMES.has(url.protocol)) return `--url: scheme must be mqtt, mqtts, ws or wss, not "${url.protocol.slice(0, -1)}"`;
  if (opts.format !== undefined && opts.format !== 'json' && opts.format !== 'sparkplug_b') return `--format: "${String(opts.format)}" must be json or sparkplug_b`;
  if (opts.prefix === '' || /[+#\0]/.test(opts.prefix)) return `--prefix: "${opts.prefix}" must be a non-empty topic prefix without wildcards`;
  for (const g of opts.gateways) if (!GATEWAY_ID.test(g)) return `--gateway: "${g}" is not a gateway id ([A-Za-z0-9_-]+)`;
  if (opts.duration !== undefined && !(opts.duration > 0)) return '--duration must be positive';
  if (opts.since !== undefined && !(Number.isSafeInteger(opts.since) && opts.since >= 0)) return '--since must be a non-negative integer seq';
  return null;
}

/** From main.ts's parsed arguments to runAudit: what the operator typed, checked. */
export async function auditCommand(
  values: Record<string, string | boolean | string[] | undefined>,
  out: (s: string) => void,
): Promise<number> {
  const err = (s: string) => process.stderr.write(`${s}\n`);
  if (typeof values.url !== 'string') {
    err('floorgate audit: --url is required, e.g. --url mqtt://broker:1883');
    return EXIT.usage;
  }
  let duration: number | undefined;
  if (typeof values.duration === 'string') {
    duration = parseDuration(values.duration);
    if (duration === undefined) {
      err(`floorgate audit: --duration: "${values.duration}" is not a duration (e.g. 90s, 10m, 2h)`);
      return EXIT.usage;
    }
  }
  let since: number | undefined;
  if (typeof values.since === 'string') {
    since = /^\d+$/.test(values.since) ? Number(values.since) : NaN;
  }
  return runAudit({
    url: values.url,
    prefix: typeof values.prefix === 'string' ? values.prefix : 'floorgate',
    format: values.format as AuditOptions['format'],
    gateways: Array.isArray(values.gateway) ? values.gateway : [],
    duration,
    json: values.json === true,
    clientId: typeof values['client-id'] === 'string' ? values['client-id'] : undefined,
    since,
    out,
    err,
  });
}
