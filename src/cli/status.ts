/**
 * `floorgate status`: asks the running daemon's /healthz (at the config's http.listen) and
 * prints it for a person. Exit 0 when healthy; 1 when degraded, failing or not reachable;
 * 78 when the config is invalid or has no HTTP listener to ask.
 */
import { formatProblem } from '../config/load.js';
import { loadFloorgateConfig } from '../assembly.js';
import type { Health } from '../http/health.js';
import { hostForUrl } from '../http/server.js';
import { EXIT } from './exit.js';
import { formatTable } from './table.js';

const TIMEOUT_MS = 3_000;

export async function runStatus(file: string, out: (line: string) => void): Promise<number> {
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) {
    for (const p of loaded.problems) out(formatProblem(p));
    return EXIT.config;
  }
  const { http, gateway } = loaded.config;
  if (!http.listen) {
    out(`${file}: http.listen is false, so the daemon serves no health endpoint to ask; set it (e.g. 127.0.0.1:9102) and restart floorgate`);
    return EXIT.config;
  }
  if (http.listen.port === 0) {
    out(`${file}: http.listen has port 0 (any free port), so floorgate status cannot know where to ask; give it a fixed port`);
    return EXIT.config;
  }
  const url = `http://${hostForUrl(connectableHost(http.listen.host))}:${http.listen.port}/healthz`;

  let status: number;
  let text: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    status = res.status;
    text = await res.text();
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') {
      out(`floorgate did not answer at ${url} within ${TIMEOUT_MS / 1000} s: it is running but stalled, or something else holds the port`);
    } else {
      out(`floorgate is not running or its HTTP listener is off (http.listen): nothing answers at ${url} (${reasonOf(err)})`);
    }
    return EXIT.failure;
  }
  const health = parseHealth(text);
  if (!health) {
    out(`${url} answered HTTP ${status}, but not with floorgate's health report: is another service using that port?`);
    return EXIT.failure;
  }
  for (const line of formatHealth(health, { gateway: gateway.id, url, now: Date.now() })) out(line);
  return health.status === 'ok' && status === 200 ? EXIT.ok : EXIT.failure;
}

/** The report as lines: a summary block, then one table row per device. */
export function formatHealth(h: Health, ctx: { gateway: string; url: string; now: number }): string[] {
  const lines = [`floorgate ${ctx.gateway} at ${ctx.url.replace(/\/healthz$/, '')}: ${verdict(h)}`];
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
    const commit = p.buffer_write_ms != null ? `, last commit ${p.buffer_write_ms} ms` : '';
    lines.push(`  process  up ${age(p.uptime_s * 1000)}, rss ${bytes(p.rss_bytes)}, event-loop lag ${p.event_loop_lag_ms} ms${commit}`);
  }

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
    poll: d.last_poll_ms != null ? `${d.last_poll_ms} ms` : '-',
    error: d.error ?? '-',
  }));
  lines.push(...formatTable(rows, ['device', 'state', 'last ok', 'poll', 'error']).split('\n'));
  return lines;
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

/** A daemon listening on every address is asked over loopback. */
function connectableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function reasonOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
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
