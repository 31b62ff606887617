/**
 * `floorgate status`: asks the running daemon's /healthz and prints it for a person. Where to
 * ask: --url, else the address the daemon published when it runs this config (http-address.ts;
 * no config read, so an operator outside group floorgate can ask, in well under a second), else
 * the config's http.listen. Exit 0 when healthy; 1 when degraded, failing or not reachable; 77
 * when the config may not be read; 78 when it is invalid or has no HTTP listener to ask.
 */
import fs from 'node:fs';
import type { Health } from '../http/health.js';
import { httpAddressFile, readHttpAddress, runtimeHttpAddressFile } from './http-address.js';
import { EXIT } from './exit.js';
import { formatTable } from './table.js';

const TIMEOUT_MS = 3_000;

interface Target {
  /** The /healthz URL. */
  readonly url: string;
  /** Unknown when asked by --url alone. */
  readonly gateway?: string;
}

export async function runStatus(file: string, out: (line: string) => void, url?: string): Promise<number> {
  const target = url !== undefined ? { url: healthzUrl(url) } : await findDaemon(file, out);
  if (typeof target === 'number') return target;

  let status: number;
  let text: string;
  try {
    const res = await fetch(target.url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    status = res.status;
    text = await res.text();
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') {
      out(`floorgate did not answer at ${target.url} within ${TIMEOUT_MS / 1000} s: it is running but stalled, or something else holds the port`);
    } else {
      out(`floorgate is not running or its HTTP listener is off (http.listen): nothing answers at ${target.url} (${reasonOf(err)})`);
    }
    return EXIT.failure;
  }
  const health = parseHealth(text);
  if (!health) {
    out(`${target.url} answered HTTP ${status}, but not with floorgate's health report: is another service using that port?`);
    return EXIT.failure;
  }
  for (const line of formatHealth(health, { gateway: target.gateway, url: target.url, now: Date.now() })) out(line);
  return health.status === 'ok' && status === 200 ? EXIT.ok : EXIT.failure;
}

/** `--url http://host:port` (the listener's base URL) or its /healthz. */
function healthzUrl(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/healthz') ? base : `${base}/healthz`;
}

/** Where the daemon running `file` listens, or the exit code after saying why it cannot be known. */
async function findDaemon(file: string, out: (line: string) => void): Promise<Target | number> {
  const published = readHttpAddress(runtimeHttpAddressFile(), file);
  if (published) return { url: healthzUrl(published.url), gateway: published.gateway };
  if (!readable(file)) {
    out(`${file}: permission denied. The configuration holds secrets (root and group floorgate may read it), and no running daemon published its address for it in ${runtimeHttpAddressFile()}. Run floorgate status as root or a member of group floorgate, or give --url http://HOST:PORT`);
    return EXIT.permission;
  }
  // Only now: the config loader and every driver's schema take seconds to load on a small gateway.
  const [{ loadFloorgateConfig }, { refuseConfig }, { listenerUrl }] = await Promise.all([
    import('../assembly.js'), import('./config-refused.js'), import('../http/server.js'),
  ]);
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) return refuseConfig(loaded, out);
  const { http, gateway } = loaded.config;
  const recorded = readHttpAddress(httpAddressFile(gateway.data_dir), file);
  if (recorded) return { url: healthzUrl(recorded.url), gateway: gateway.id };
  if (!http.listen) {
    out(`${file}: http.listen is false, so the daemon serves no health endpoint to ask; set it (e.g. 127.0.0.1:9102) and restart floorgate`);
    return EXIT.config;
  }
  if (http.listen.port === 0) {
    out(`${file}: http.listen has port 0 (any free port) and the daemon published no address (is it running?); give it a fixed port, or --url`);
    return EXIT.config;
  }
  return { url: `${listenerUrl(http.listen.host, http.listen.port)}/healthz`, gateway: gateway.id };
}

/** False only for a permission problem: a missing or invalid file is the loader's to report. */
function readable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== 'EACCES' && code !== 'EPERM';
  }
}

/** The report as lines: a summary block, then one table row per device. */
export function formatHealth(h: Health, ctx: { gateway?: string; url: string; now: number }): string[] {
  const name = ctx.gateway === undefined ? 'floorgate' : `floorgate ${ctx.gateway}`;
  const lines = [`${name} at ${ctx.url.replace(/\/healthz$/, '')}: ${verdict(h)}`];
  const mqtt = h.mqtt.connected ? 'connected' : 'DISCONNECTED';
  const since = h.mqtt.since != null ? ` for ${age(ctx.now - h.mqtt.since)}` : '';
  const lastError = !h.mqtt.connected && h.mqtt.last_error ? ` (last error: ${h.mqtt.last_error})` : '';
  lines.push(`  mqtt     ${mqtt}${since}${lastError}`);

  const b = h.buffer;
  const oldest = b.oldest_ts != null ? `, oldest ${age(ctx.now - b.oldest_ts)} old` : '';
  const dropped = Object.entries(b.dropped ?? {}).filter(([, n]) => n > 0);
  const drops = dropped.length ? `; dropped ${dropped.map(([reason, n]) => `${count(n)} (${reason})`).join(', ')}` : '';
  const unwritable = b.writable === false ? '; CANNOT BE WRITTEN' : '';
  lines.push(`  buffer   ${count(b.messages)} message${b.messages === 1 ? '' : 's'}, ${bytes(b.bytes)}${oldest}${drops}${unwritable}`);

  if (h.process) {
    const p = h.process;
    const commit = p.buffer_write_ms != null ? `, last commit ${ms(p.buffer_write_ms)}` : '';
    lines.push(`  process  up ${age(p.uptime_s * 1000)}, rss ${bytes(p.rss_bytes)}, event-loop lag ${ms(p.event_loop_lag_ms)}${commit}`);
  }

  if (h.clock) lines.push(`  clock    ${clockText(h.clock)}`);

  lines.push('');
  const devices = Object.entries(h.devices);
  if (devices.length === 0) {
    lines.push('no devices configured');
    return lines;
  }
  const rows = devices.map(([name, d]) => ({
    device: name,
    state: d.up ? 'up' : 'DOWN',
    'last ok': d.last_ok_ts != null ? `${age(ctx.now - d.last_ok_ts)} ago` : 'never',
    poll: d.last_poll_ms != null ? ms(d.last_poll_ms) : '-',
    error: d.error ?? '-',
  }));
  lines.push(...formatTable(rows, ['device', 'state', 'last ok', 'poll', 'error']).split('\n'));
  return lines;
}

/** reference §4.12: trusted or why not, and the steps seen. */
function clockText(c: NonNullable<Health['clock']>): string {
  const state = c.trusted ? 'trusted' : `NOT TRUSTED (${c.reason ?? 'unknown'}): readings go out flagged "unsynced"`;
  const step = c.last_step ? `, last ${c.last_step.by_ms > 0 ? '+' : '-'}${age(shownAs(Math.abs(c.last_step.by_ms)))}` : '';
  return c.steps > 0 ? `${state}; ${c.steps} step${c.steps === 1 ? '' : 's'}${step}` : state;
}

function verdict(h: Health): string {
  if (h.status === 'failing') return 'FAILING: the buffer cannot be written, readings are being lost';
  if (h.status === 'degraded') {
    const down = Object.values(h.devices).filter((d) => !d.up).length;
    const why = [!h.mqtt.connected && 'broker unreachable', down > 0 && `${down} device${down === 1 ? '' : 's'} down`].filter(Boolean);
    return why.length ? `DEGRADED (${why.join(', ')})` : 'DEGRADED';
  }
  return 'ok';
}

/** Only the shape reference §5 promises is required, so an older or newer daemon still reads fine. */
function parseHealth(text: string): Health | null {
  let h: unknown;
  try {
    h = JSON.parse(text);
  } catch {
    return null;
  }
  const o = h as Partial<Health> | null;
  const valid = typeof o === 'object' && o !== null
    && (o.status === 'ok' || o.status === 'degraded' || o.status === 'failing')
    && typeof o.mqtt?.connected === 'boolean'
    && typeof o.buffer?.messages === 'number' && typeof o.buffer.bytes === 'number'
    && typeof o.devices === 'object' && o.devices !== null;
  return valid ? (o as Health) : null;
}

function reasonOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/** Milliseconds as a person reads them: 0.8 ms, 4.2 ms, 31 ms (the daemon reports them unrounded). */
function ms(n: number): string {
  return `${n < 10 ? Math.round(n * 10) / 10 : Math.round(n)} ms`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A human age, two units at most: 0.4s, 42s, 3m 12s, 3h 2m, 2d 4h. */
/**
 * A size (a clock step), rounded to the unit age() shows it in: a step of 3 days less a few
 * milliseconds is "3d 0h", where an age is floored ("up 2d 23h" until it is 3 days).
 */
function shownAs(ms: number): number {
  const unit = ms >= 86_400_000 ? 3_600_000 : ms >= 3_600_000 ? 60_000 : ms >= 10_000 ? 1000 : 100;
  return Math.round(ms / unit) * unit;
}

function age(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${(Math.floor(s * 10) / 10).toString()}s`;
  const whole = Math.floor(s);
  if (whole < 60) return `${whole}s`;
  const [d, h, m] = [Math.floor(whole / 86_400), Math.floor((whole % 86_400) / 3600), Math.floor((whole % 3600) / 60)];
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${whole % 60}s`;
}
