/**
 * The arm64 smoke, started by run.sh once the arm64 root holds Node.js and floorgate:
 *
 *   1. the native addons load and work under emulation (natives.ts, run inside the root);
 *   2. and 3. the same end-to-end run twice, on this host's node and inside the root under qemu:
 *      the Modbus simulator → `floorgate run` → mosquitto on 127.0.0.1, the broker restarted in
 *      the middle, and every seq from 1 up must have arrived (or, for the last few, still be in
 *      the buffer when the gateway stopped: stored, never lost).
 *
 * Prints start-up time, memory and CPU per reading of both runs side by side, then one closing
 * line "arm64: N passed, N failed". Every process started here is killed by pid at the end,
 * also on SIGINT/SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { AuditSession, type CompletenessReport } from '../../src/audit/completeness.js';
import { readMeta } from '../../src/buffer/schema.js';
import { PACKAGE_ROOT } from '../../src/package-info.js';
import { startBroker, type Broker } from '../helpers/broker.js';
import { shebangNodeFlags } from '../helpers/node-flags.js';
import { subscribeKeepingSession, type SessionSubscriber } from './subscriber.js';
import { sampleUsage, type Usage } from './usage.js';

const args = parseArgs({
  options: {
    root: { type: 'string' },
    app: { type: 'string', default: '/opt/floorgate' },
    node: { type: 'string', default: '/opt/node/bin/node' },
    seconds: { type: 'string', default: '20' },
    timings: { type: 'string' },
  },
}).values;
if (!args.root) throw new Error('usage: smoke.js --root DIR [--app DIR] [--node PATH] [--seconds N] [--timings FILE]');
const ROOT = path.resolve(args.root);
// The package root, found the same way from test/ under vitest and from dist/test/ once compiled.
const CLI = path.join(PACKAGE_ROOT, 'dist/src/cli/main.js');
/** As installed: with the Node flags of the CLI's shebang (the app in the root is the same build). */
const NODE_FLAGS = shebangNodeFlags(CLI);
const STEADY_MS = Number(args.seconds) * 1000;
// Everything after start-up is in the steady window, but the first seconds under qemu are
// spent translating code: left out of the CPU figure.
const WARMUP_MS = 5_000;
const OUTAGE_MS = 5_000;
const POLL_MS = 100;
// Generous: a Pi is faster than qemu on two busy cores, and slow is not what this test judges.
const START_TIMEOUT_MS = 180_000;
const DRAIN_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 30_000;
// The environment of a program in the root: nothing of the host's means anything there.
const ROOT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stdout.write(`arm64: ${line}\n`);

/** Where a gateway runs: this host's node, or the arm64 node inside the root (under qemu). */
interface Target {
  readonly label: string;
  readonly gatewayId: string;
  /** A fresh directory, as this process and as the gateway see it. */
  makeDir(): { host: string; inside: string };
  spawnGateway(configInside: string): ChildProcess;
}

const hostTarget: Target = {
  label: `host (${os.arch()})`,
  gatewayId: 'smoke-host',
  makeDir() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-arm64-host-'));
    return { host: dir, inside: dir };
  },
  spawnGateway: (config) => spawn(process.execPath, [...NODE_FLAGS, CLI, 'run', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] }),
};

const arm64Target: Target = {
  label: os.arch() === 'arm64' ? 'arm64 (native)' : 'arm64 (qemu)',
  gatewayId: 'smoke-arm64',
  makeDir() {
    const dir = fs.mkdtempSync(path.join(ROOT, 'tmp', 'floorgate-smoke-'));
    return { host: dir, inside: dir.slice(ROOT.length) };
  },
  // chroot execs node in place, so the pid is the (emulated) gateway's.
  spawnGateway: (config) => spawn('chroot', [ROOT, args.node!, ...NODE_FLAGS, `${args.app}/dist/src/cli/main.js`, 'run', '-c', config], {
    env: ROOT_ENV, stdio: ['ignore', 'pipe', 'pipe'],
  }),
};

/** A poll every 100 ms of every area the simulator serves: four requests and 11 readings a cycle. */
function writeConfig(dir: { host: string; inside: string }, gatewayId: string, mqttPort: number, modbusPort: number): string {
  fs.writeFileSync(path.join(dir.host, 'floorgate.yaml'), `gateway:
  id: ${gatewayId}
  data_dir: ${dir.inside}/data
log:
  level: info
mqtt:
  url: mqtt://127.0.0.1:${mqttPort}
  qos: 1
  keepalive: 5s
  reconnect_min: 200ms
  reconnect_max: 1s
buffer:
  commit_interval: 100ms
http:
  listen: false
devices:
  - name: press-1
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${modbusPort}
    unit_id: 1
    poll_interval: ${POLL_MS}ms
    timeout: 2s
    tags:
      - { name: temperature, area: holding, address: 0, type: float32 }
      - { name: counter, area: holding, address: 2, type: uint32 }
      - { name: pressure, area: holding, address: 4, type: int16, scale: 0.1 }
      - { name: alarm, area: holding, address: 5, type: bool, bit: 3 }
      - { name: recipe, area: holding, address: 10, type: string, length: 8 }
      - { name: energy, area: holding, address: 20, type: float64 }
      - { name: position, area: holding, address: 24, type: int32, byte_order: CDAB }
      - { name: running, area: coil, address: 0, type: bool }
      - { name: door_open, area: discrete, address: 0, type: bool }
      - { name: speed, area: input, address: 0, type: uint16 }
      - { name: flow, area: input, address: 2, type: float32 }
`);
  return `${dir.inside}/floorgate.yaml`;
}

/** A child process: its output lines (JSON logs), and a stop that never waits forever. */
class Proc {
  readonly lines: string[] = [];
  readonly exited: Promise<number | string>;
  private done = false;

  constructor(readonly child: ChildProcess) {
    let rest = '';
    const collect = (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop()!;
      this.lines.push(...parts);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.done = true;
      resolve(code ?? signal ?? -1);
    }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return !this.done;
  }

  logged(msg: string): boolean {
    return this.lines.some((line) => line.includes(`"msg":"${msg}"`));
  }

  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<number | string> {
    if (this.done) return this.exited;
    process.kill(this.pid, signal);
    const timer = setTimeout(() => { if (!this.done) process.kill(this.pid, 'SIGKILL'); }, timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  tail(n = 15): string {
    return this.lines.slice(-n).join('\n');
  }
}

/**
 * Polls cond every 50 ms; rejects after timeoutMs, or at once when proc has exited, saying what
 * state() describes.
 */
async function until(what: string, cond: () => boolean, timeoutMs: number, proc: Proc, state = () => ''): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return Date.now();
    if (!proc.running) throw new Error(`the process exited while waiting for ${what} ${state()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} ${state()}`);
    await sleep(50);
  }
}

function describe(r: CompletenessReport, subscription: SessionSubscriber): string {
  return `(upstream: ${r.messages} messages, seq ${r.firstSeq}..${r.lastSeq}, ${r.historical} historical, ` +
    `${r.missing} missing in ${r.openGaps} gaps ${JSON.stringify(r.gaps.slice(0, 3).map((g) => [g.from, g.to]))}; ` +
    `subscriber ${subscription.sessionLost ? 'lost its session' : 'kept its session'})`;
}

interface Figures {
  readyMs: number;
  firstMessageMs: number;
  rssKiB: number;
  peakRssKiB: number;
  cpuPerReadingUs: number;
  cpuShare: number;
  readingsPerSecond: number;
  liveDelayP50: number | null;
  liveDelayP99: number | null;
  backlog: number;
  drainMs: number;
  stopMs: number;
  messages: number;
  duplicates: number;
  leftInBuffer: number;
}

interface Outcome {
  readonly target: Target;
  readonly problems: string[];
  readonly figures?: Figures;
}

/** What is running now, for the signal handler. */
const live = new Set<{ gateway?: Proc; subscription?: SessionSubscriber; dir?: string }>();
let runningBroker: Broker | undefined;
let plc: Proc | undefined;

async function scenario(target: Target, broker: Broker, modbusPort: number): Promise<Outcome> {
  const res: { gateway?: Proc; subscription?: SessionSubscriber; dir?: string } = {};
  live.add(res);
  const problems: string[] = [];
  const id = target.gatewayId;
  try {
    const dir = target.makeDir();
    res.dir = dir.host;
    const config = writeConfig(dir, id, broker.port, modbusPort);

    const audit = new AuditSession({ prefix: 'floorgate', gateways: [id], tracker: { since: 1 } });
    const report = (): CompletenessReport => audit.report(Date.now()).gateways[id];
    const subscription = subscribeKeepingSession(broker.url, `floorgate-arm64-smoke-${id}-${process.pid}`, `floorgate/${id}/#`,
      (topic, payload) => audit.observe(topic, payload, Date.now()));
    res.subscription = subscription;
    const deadline = Date.now() + 10_000;
    while (!subscription.subscribed) {
      if (Date.now() > deadline) throw new Error(`could not subscribe to ${broker.url}`);
      await sleep(20);
    }

    say(`${target.label}: starting floorgate run`);
    const t0 = Date.now();
    const gateway = new Proc(target.spawnGateway(config));
    res.gateway = gateway;
    const readyAt = await until('"floorgate started"', () => gateway.logged('floorgate started'), START_TIMEOUT_MS, gateway);
    const firstAt = await until('the first message upstream', () => report().messages > 0, START_TIMEOUT_MS, gateway);
    say(`${target.label}: ready after ${ms(readyAt - t0)}, first message upstream after ${ms(firstAt - t0)}`);

    await sleep(WARMUP_MS);
    const before: Usage = sampleUsage(gateway.pid);
    const readingsBefore = report().readings;
    const windowStart = Date.now();
    await sleep(STEADY_MS);
    const after: Usage = sampleUsage(gateway.pid);
    const windowMs = Date.now() - windowStart;
    const readings = report().readings - readingsBefore;
    if (readings === 0) throw new Error('no readings arrived in the steady window');

    say(`${target.label}: restarting the broker (down for ${OUTAGE_MS / 1000} s)`);
    await broker.stop();
    await sleep(OUTAGE_MS);
    await broker.start();
    const resumedAt = Date.now();
    // Live data carries higher seqs than the backlog: no open gap past one of them means the
    // backlog is in too.
    const seqAtResume = report().lastSeq ?? 0;
    const drainedAt = await until('the backlog to drain after the broker restart',
      () => { const r = report(); return r.historical > 0 && r.openGaps === 0 && (r.lastSeq ?? 0) > seqAtResume; },
      DRAIN_TIMEOUT_MS, gateway, () => describe(report(), subscription));

    const stopAt = Date.now();
    const code = await gateway.stop('SIGTERM', STOP_TIMEOUT_MS);
    const stopMs = Date.now() - stopAt;
    if (code !== 0) problems.push(`SIGTERM: exit ${code}, expected 0`);
    // Whatever was published before the exit is on its way to the audit's socket.
    await sleep(1_000);

    const final = report();
    const { lastSeq, kept } = bufferTail(path.join(dir.host, 'data', 'buffer.db'));
    const received = final.lastSeq ?? 0;
    if (final.firstSeq !== 1) problems.push(`the first seq that arrived is ${final.firstSeq}, expected 1`);
    if (final.openGaps > 0) problems.push(`${final.missing} seqs missing upstream, first gaps: ${JSON.stringify(final.gaps.slice(0, 5))}`);
    const lost = [];
    for (let seq = received + 1; seq <= lastSeq; seq++) if (!kept.has(seq)) lost.push(seq);
    if (lost.length > 0) problems.push(`seqs ${lost.slice(0, 10).join(', ')} neither arrived nor are in the buffer`);
    if (final.historical === 0) problems.push('the broker restart left no backlog: nothing was tested');
    if (subscription.sessionLost) problems.push('the broker lost the subscriber\'s session on restart: gaps may be the broker\'s');

    return {
      target, problems, figures: {
        readyMs: readyAt - t0,
        firstMessageMs: firstAt - t0,
        rssKiB: after.rssKiB,
        peakRssKiB: after.peakRssKiB,
        cpuPerReadingUs: ((after.cpuMs - before.cpuMs) * 1000) / readings,
        cpuShare: (after.cpuMs - before.cpuMs) / windowMs,
        readingsPerSecond: (readings * 1000) / windowMs,
        liveDelayP50: final.delay.live.p50,
        liveDelayP99: final.delay.live.p99,
        backlog: final.historical,
        drainMs: drainedAt - resumedAt,
        stopMs,
        messages: final.messages,
        duplicates: final.duplicates,
        leftInBuffer: kept.size,
      },
    };
  } catch (err) {
    problems.push((err as Error).message);
    if (res.gateway) problems.push(`the gateway's last lines:\n${res.gateway.tail()}`);
    return { target, problems };
  } finally {
    await release(res);
    live.delete(res);
  }
}

/** The buffer after the gateway stopped: its last seq, and the seqs still stored in it. */
function bufferTail(file: string): { lastSeq: number; kept: Set<number> } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const lastSeq = readMeta(db).last_seq;
    const kept = new Set(db.prepare('SELECT seq FROM messages').pluck().all() as number[]);
    return { lastSeq, kept };
  } finally {
    db.close();
  }
}

async function release(res: { gateway?: Proc; subscription?: SessionSubscriber; dir?: string }): Promise<void> {
  if (res.gateway?.running) await res.gateway.stop('SIGKILL', 5_000);
  await res.subscription?.close();
  if (res.dir) fs.rmSync(res.dir, { recursive: true, force: true });
}

/** Runs natives.js with the arm64 node inside the root. */
function checkNatives(): Outcome {
  const target = arm64Target;
  const r = spawnSync('chroot', [ROOT, args.node!, `${args.app}/dist/test/arm64/natives.js`], {
    env: ROOT_ENV, encoding: 'utf8', timeout: 120_000,
  });
  if (r.status === 0) {
    say(`native addons under ${target.label}: ${r.stdout.trim()}`);
    return { target, problems: [] };
  }
  return { target, problems: [`native addons: ${r.error?.message ?? `exit ${r.status ?? r.signal}`}\n${r.stderr}`] };
}

const ms = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);

function printComparison(host: Figures | undefined, arm: Figures | undefined): void {
  const rows: [string, (f: Figures) => number | null, (v: number) => string][] = [
    ['start-up: spawn to "floorgate started"', (f) => f.readyMs, ms],
    ['start-up: spawn to first message upstream', (f) => f.firstMessageMs, ms],
    ['RSS after the steady window', (f) => f.rssKiB, (v) => `${(v / 1024).toFixed(1)} MiB`],
    ['peak RSS', (f) => f.peakRssKiB, (v) => `${(v / 1024).toFixed(1)} MiB`],
    ['CPU per reading (steady window)', (f) => f.cpuPerReadingUs, (v) => `${v.toFixed(0)} µs`],
    ['CPU use (share of one core)', (f) => f.cpuShare, (v) => `${(v * 100).toFixed(1)} %`],
    ['readings upstream per second', (f) => f.readingsPerSecond, (v) => v.toFixed(1)],
    ['live delay p50 (read → upstream)', (f) => f.liveDelayP50, ms],
    ['live delay p99', (f) => f.liveDelayP99, ms],
    ['backlog after a 5 s broker outage (messages)', (f) => f.backlog, (v) => String(v)],
    ['backlog delivered after the broker is back', (f) => f.drainMs, ms],
    ['clean stop (SIGTERM to exit)', (f) => f.stopMs, ms],
    ['messages upstream (distinct seqs)', (f) => f.messages, String],
    ['duplicates upstream (at least once)', (f) => f.duplicates, String],
    ['left in the buffer at the stop (kept)', (f) => f.leftInBuffer, String],
  ];
  const cols = [hostTarget.label, arm64Target.label, 'ratio'];
  const width = Math.max(...rows.map(([name]) => name.length));
  const cell = (f: Figures | undefined, get: (f: Figures) => number | null, fmt: (v: number) => string) => {
    const v = f ? get(f) : null;
    return v === null ? '—' : fmt(v);
  };
  say('');
  say(`${''.padEnd(width)}  ${cols[0].padStart(14)}  ${cols[1].padStart(14)}  ${cols[2].padStart(6)}`);
  for (const [name, get, fmt] of rows) {
    const h = host ? get(host) : null;
    const a = arm ? get(arm) : null;
    const ratio = h && a ? `${(a / h).toFixed(1)}x` : '';
    say(`${name.padEnd(width)}  ${cell(host, get, fmt).padStart(14)}  ${cell(arm, get, fmt).padStart(14)}  ${ratio.padStart(6)}`);
  }
  say(`CPU and RSS are the kernel's figures for the process: under qemu that is the emulator with`);
  say(`the program, translation included. ${os.cpus().length} host CPUs (${os.cpus()[0]?.model ?? 'unknown'}), shared with whatever else runs.`);
  if (args.timings && fs.existsSync(args.timings)) {
    for (const line of fs.readFileSync(args.timings, 'utf8').trim().split('\n')) say(`this run: ${line}`);
  }
}

async function main(): Promise<number> {
  const outcomes: Outcome[] = [checkNatives()];
  // Persistent: the restart keeps the subscriber's session and what is queued for it, so the
  // smoke asks the gateway, not the broker, to lose nothing.
  const broker = await startBroker({ engine: 'mosquitto', persistent: true });
  runningBroker = broker;
  try {
    const sim = new Proc(spawn(process.execPath, [CLI, 'sim', 'modbus', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    plc = sim;
    const listening = () => sim.lines.find((l) => l.includes('listening on'));
    await until('the Modbus simulator to listen', () => listening() !== undefined, 15_000, sim);
    const modbusPort = Number(/:(\d+) /.exec(listening()!)![1]);
    const host = await scenario(hostTarget, broker, modbusPort);
    outcomes.push(host);
    const arm = await scenario(arm64Target, broker, modbusPort);
    outcomes.push(arm);
    printComparison(host.figures, arm.figures);
  } finally {
    await plc?.stop('SIGKILL', 5_000);
    await broker.kill();
    runningBroker = undefined;
  }
  say('');
  const names = ['native addons load under emulation', `end to end on ${hostTarget.label}`, `end to end on ${arm64Target.label}`];
  outcomes.forEach((o, i) => {
    if (o.problems.length === 0) say(`PASS ${names[i]}`);
    else say(`FAIL ${names[i]}:\n  ${o.problems.join('\n  ')}`);
  });
  const failed = outcomes.filter((o) => o.problems.length > 0).length;
  say(`${outcomes.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

// run.sh forwards SIGTERM (and Ctrl-C reaches the whole group): kill what we started, then go.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([...live].map(release)).then(() => plc?.stop('SIGKILL', 5_000)).then(() => runningBroker?.kill())
      .finally(() => process.exit(130));
  });
}

main().then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`arm64: smoke failed: ${(err as Error).stack}\n`);
  say('0 passed, 1 failed');
  process.exitCode = 1;
});
