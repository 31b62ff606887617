/**
 * `floorgate run` as the benches run it: the compiled CLI in a child process (optionally on one
 * core, under --cpu-prof, with a NOTIFY_SOCKET), a generated config of many Modbus tags against
 * the fast simulator, and its /metrics read back. Every process started here is killed by pid
 * when the bench process exits, whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shebangNodeFlags } from '../helpers/node-flags.js';
import { cpuSeconds, onCore, rssBytes } from './procfs.js';
import { median, sleep } from './report.js';
import { CLI, ROOT } from '../helpers/gateway.js';

// The checkout as the tests find it, so these helpers also run under vitest from the sources.
export { CLI, ROOT } from '../helpers/gateway.js';
/** floorgate is measured as it is deployed, with its shebang's Node flags. */
export const NODE_FLAGS = shebangNodeFlags(CLI);

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Remembers a child so it is SIGKILLed if the bench exits first. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A bare Node process with one timer, the baseline of the memory and idle benches; `prefix` is e.g. taskset. */
export function spawnBareNode(prefix: readonly string[] = []): ChildProcess {
  const argv = [...prefix, process.execPath, '-e', 'setInterval(() => {}, 1000)'];
  return track(spawn(argv[0], argv.slice(1), { stdio: 'ignore' }));
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `floorgate-bench-${prefix}-`));
}

export interface Layout {
  readonly devices: number;
  /** float32 tags per device, packed from holding 0: one request per 62 tags. */
  readonly tagsPerDevice: number;
  readonly pollInterval: string;
  /**
   * uint16: input registers from 64,000 instead, which the fast simulator fills with their own
   * address, so every value has five digits (a uint16's longest); one request per 125 tags.
   */
  readonly tagType?: 'float32' | 'uint16';
}

export interface GatewayConfig extends Layout {
  /** Further `mqtt:` keys, e.g. `{ json_layout: 'compact' }`. */
  readonly mqtt?: Readonly<Record<string, string>>;
  readonly dir: string;
  readonly gatewayId: string;
  readonly mqttPort: number;
  readonly modbusPort: number;
}

export function tagName(i: number): string {
  return `t${String(i).padStart(5, '0')}`;
}

export function deviceName(i: number): string {
  return `plc${String(i).padStart(3, '0')}`;
}

/** Writes the config into dir and returns its path. */
export function writeConfig(c: GatewayConfig): string {
  const lines = [
    'gateway:',
    `  id: ${c.gatewayId}`,
    `  data_dir: ${path.join(c.dir, 'data')}`,
    'log:',
    '  level: info',
    'mqtt:',
    `  url: mqtt://127.0.0.1:${c.mqttPort}`,
    '  reconnect_min: 200ms',
    '  reconnect_max: 1s',
    ...Object.entries(c.mqtt ?? {}).map(([k, v]) => `  ${k}: ${v}`),
    'buffer:',
    '  max_bytes: 2GiB',
    'http:',
    '  listen: 127.0.0.1:0',
    'devices:',
  ];
  for (let d = 0; d < c.devices; d++) {
    lines.push(
      `  - name: ${deviceName(d)}`,
      '    driver: modbus_tcp',
      '    host: 127.0.0.1',
      `    port: ${c.modbusPort}`,
      `    poll_interval: ${c.pollInterval}`,
      '    timeout: 2s',
      '    tags:',
    );
    for (let t = 0; t < c.tagsPerDevice; t++) {
      lines.push(c.tagType === 'uint16'
        ? `      - { name: ${tagName(t)}, area: input, address: ${64_000 + t}, type: uint16 }`
        : `      - { name: ${tagName(t)}, area: holding, address: ${t * 2}, type: float32 }`);
    }
  }
  const file = path.join(c.dir, 'floorgate.yaml');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export interface GatewayProcess {
  readonly pid: number;
  /** Epoch ms just before the process was spawned. */
  readonly spawnedAt: number;
  /** Resolves with the HTTP port once the "floorgate started" line appears. */
  readonly started: Promise<number>;
  metrics(): Promise<MetricsSample>;
  /** SIGTERM, then SIGKILL after timeoutMs; resolves with the exit code or signal. */
  stop(timeoutMs?: number): Promise<number | string>;
}

export interface SpawnOptions {
  /** Run on this core only (taskset). */
  readonly core?: number;
  /** Directory for `node --cpu-prof` output. */
  readonly cpuProfDir?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface MetricsSample {
  readonly at: number;
  readonly readings: number;
  readonly published: number;
  readonly bufferMessages: number;
  readonly overruns: number;
}

export function spawnGateway(configFile: string, opts: SpawnOptions = {}): GatewayProcess {
  const node = [process.execPath, ...NODE_FLAGS, ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []), CLI, 'run', '-c', configFile];
  const argv = [...(opts.core === undefined ? [] : onCore(opts.core)), ...node];
  const spawnedAt = Date.now();
  const child = track(spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let tail = '';
  const keep = (chunk: Buffer) => { tail = (tail + chunk.toString()).slice(-4000); };
  child.stderr!.on('data', keep);

  const started = new Promise<number>((resolve, reject) => {
    let rest = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop()!;
      for (const line of parts) {
        if (!line.includes('floorgate started')) continue;
        resolve((JSON.parse(line) as { http_port: number }).http_port);
      }
    });
    void exited.then((code) => reject(new Error(`floorgate run exited (${code}) before starting:\n${tail}`)));
  });
  started.catch(() => undefined);

  return {
    pid: child.pid!,
    spawnedAt,
    started,
    metrics: async () => parseMetrics(await (await fetch(`http://127.0.0.1:${await started}/metrics`)).text()),
    async stop(timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

function parseMetrics(text: string): MetricsSample {
  const sum = (name: string): number => {
    let total = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(name + ' ') || line.startsWith(name + '{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  };
  return {
    at: performance.now(),
    readings: sum('floorgate_readings_total'),
    published: sum('floorgate_published_messages_total'),
    bufferMessages: sum('floorgate_buffer_messages'),
    overruns: sum('floorgate_poll_overruns_total'),
  };
}

export interface GatewayWindow {
  readonly cpuSeconds: number;
  readonly readings: number;
  /** Median of one RSS sample a second. */
  readonly rss: number;
}

/** The gateway's CPU, readings taken and RSS over the next windowMs. */
export async function measureWindow(gw: GatewayProcess, windowMs: number): Promise<GatewayWindow> {
  const m0 = await gw.metrics();
  const c0 = cpuSeconds(gw.pid);
  const rss: number[] = [];
  for (let t = 0; t < windowMs; t += 1000) {
    await sleep(1000);
    rss.push(rssBytes(gw.pid));
  }
  const m1 = await gw.metrics();
  return { cpuSeconds: cpuSeconds(gw.pid) - c0, readings: m1.readings - m0.readings, rss: median(rss) };
}
