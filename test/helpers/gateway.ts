/**
 * Runs the real CLI (the compiled dist/, as an operator would: with its shebang's Node flags)
 * as a child process, and collects its JSON log lines. Every process started here is killed by pid in stopAll().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { shebangNodeFlags } from './node-flags.js';
import { reapOnExit } from './reap.js';

/**
 * The checkout: the nearest directory up with a package.json, from test/helpers/ or, compiled
 * (the soak run), from dist/test/helpers/.
 */
export const ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const NODE_FLAGS = shebangNodeFlags(CLI);

const started = new Set<ChildProcess>();

export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first stdout line (parsed when JSON) that matches. */
  waitFor(pred: (line: string, json: Record<string, unknown> | undefined) => boolean, timeoutMs?: number): Promise<string>;
  /**
   * Sends the signal and resolves with the exit code (or the signal name). Started with `group`,
   * the signal goes to its whole process group, as a terminal's Ctrl-C does.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
  readonly exited: Promise<number | string>;
}

/**
 * `cli`: another copy of the CLI than this checkout's (an installed tree). `group`: in a process
 * group of its own, as a command typed at a terminal is.
 */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; cli?: string; group?: boolean } = {}): CliProcess {
  const child = spawn(process.execPath, [...NODE_FLAGS, opts.cli ?? CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group === true,
  });
  started.add(child);
  reapOnExit(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  const lines = (stream: NodeJS.ReadableStream, into: string[]) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      into.push(...parts);
      for (const w of waiters) w();
    });
  };
  lines(child.stdout!, stdout);
  lines(child.stderr!, stderr);
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      started.delete(child);
      for (const w of waiters) w();
      resolve(code ?? signal ?? -1);
    });
  });
  let exitedNow = false;
  void exited.then(() => { exitedNow = true; });

  return {
    child, pid: child.pid!, stdout, stderr, exited,
    waitFor(pred, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < stdout.length; seen++) {
            const line = stdout[seen];
            let json: Record<string, unknown> | undefined;
            try { json = JSON.parse(line); } catch { json = undefined; }
            if (pred(line, json)) { done(); return resolve(line); }
          }
          if (exitedNow) { done(); reject(new Error(`process exited before the line appeared; stderr: ${stderr.join('\n')}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for a line; last: ${stdout.slice(-5).join('\n')}\nstderr: ${stderr.join('\n')}`)); }, timeoutMs);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 12_000) {
      if (!exitedNow) {
        if (opts.group) process.kill(-child.pid!, signal);
        else child.kill(signal);
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Kills every CLI process still running (afterAll / afterEach). */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((child) => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  })));
}

export function tempDir(prefix = 'floorgate-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface GatewayConfigOptions {
  dir: string;
  mqttPort: number;
  modbusPort: number;
  gatewayId?: string;
  /** Extra YAML lines under buffer: */
  buffer?: Record<string, string | number>;
  /** Keys under mqtt: (besides url), over the defaults keepalive 2s, reconnect_min 200ms, reconnect_max 1s. */
  mqtt?: Record<string, string | number>;
  pollInterval?: string;
  httpPort?: number;
  /** press-1's tags as YAML flow mappings, instead of temperature, counter and running. */
  tags?: readonly string[];
  /** More tags of press-1, as YAML flow mappings (e.g. writable ones). */
  extraTags?: readonly string[];
  /** More devices: YAML list items, appended under devices:. */
  extraDevices?: string;
}

const PRESS_TAGS = [
  '{ name: temperature, area: holding, address: 0, type: float32 }',
  '{ name: counter, area: holding, address: 2, type: uint32 }',
  '{ name: running, area: coil, address: 0, type: bool }',
];

/**
 * A gateway config against the demo PLC map (drivers/modbus/sim.ts), written to dir.
 * Returns the file path.
 */
export function writeGatewayConfig(o: GatewayConfigOptions): string {
  const kv = (obj: Record<string, string | number> = {}) => Object.entries(obj).map(([k, v]) => `  ${k}: ${v}\n`).join('');
  const text = `gateway:
  id: ${o.gatewayId ?? 'test-gw'}
  data_dir: ${path.join(o.dir, 'data')}
log:
  level: debug
mqtt:
  url: mqtt://127.0.0.1:${o.mqttPort}
${kv({ keepalive: '2s', reconnect_min: '200ms', reconnect_max: '1s', ...o.mqtt })}buffer:
  commit_interval: 50ms
${kv(o.buffer)}http:
  listen: ${o.httpPort === undefined ? 'false' : `127.0.0.1:${o.httpPort}`}
devices:
  - name: press-1
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${o.modbusPort}
    poll_interval: ${o.pollInterval ?? '100ms'}
    timeout: 500ms
    tags:
${[...(o.tags ?? PRESS_TAGS), ...(o.extraTags ?? [])].map((t) => `      - ${t}\n`).join('')}${o.extraDevices ?? ''}`;
  const file = path.join(o.dir, 'floorgate.yaml');
  fs.writeFileSync(file, text);
  return file;
}
