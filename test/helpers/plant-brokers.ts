/**
 * The MQTT brokers plants run, behind one interface, for the interop tests: mosquitto and aedes
 * (broker.ts), NATS with JetStream's MQTT support, and RabbitMQ's MQTT plugin. NATS and RabbitMQ
 * run as instances of our own on free loopback ports with a generated config in a temp dir —
 * never the machine's own service, which may be running on the default ports. stop()/start()
 * restart a broker on the same ports with its state kept (JetStream store, Mnesia); close()
 * stops it for good and removes its files. Every process started here is killed by pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import { freePort, hasMosquitto, startBroker, waitForPort } from './broker.js';
import { ROOT } from './gateway.js';
import { reapOnExit } from './reap.js';
import { needTool, onPath } from './tools.js';

export interface PlantBroker {
  /** e.g. "mosquitto 2.0.11". */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** SIGTERM (a clean shutdown: clients see their connection closed) and wait for the exit. */
  stop(): Promise<void>;
  /** Start again on the same ports; resolves once the MQTT listener takes connections. */
  start(): Promise<void>;
  /** Stop for good and remove the broker's files. */
  close(): Promise<void>;
}

export type BrokerKind = 'mosquitto' | 'aedes' | 'nats' | 'rabbitmq';

/** Debian's layout: /usr/sbin/rabbitmq-server only su's to the rabbitmq user and calls this one. */
const RABBITMQ_SCRIPT = ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/lib/rabbitmq/sbin/rabbitmq-server']
  .find((p) => fs.existsSync(p));

const BROKER_TOOLS: Record<BrokerKind, { tool: string; present: () => boolean }> = {
  mosquitto: { tool: 'mosquitto', present: hasMosquitto },
  aedes: { tool: 'aedes (npm)', present: () => true },
  nats: { tool: 'nats-server', present: () => onPath('nats-server') },
  rabbitmq: { tool: 'rabbitmq-server', present: () => RABBITMQ_SCRIPT !== undefined && onPath('epmd') },
};

/**
 * A describe block for one broker. When the broker is not installed it holds one test instead,
 * which fails under CI=true naming the tool (.ci/run installs it) and is skipped elsewhere,
 * saying why (tools.ts).
 */
export function describeBroker(kind: BrokerKind, title: string, body: () => void): void {
  const { tool, present } = BROKER_TOOLS[kind];
  describe(title, () => {
    if (present()) return body();
    it(`needs ${tool}`, (ctx) => {
      if (!needTool(tool, false, `${title} (Debian package ${tool})`)) ctx.skip();
    });
  });
}

export async function startPlantBroker(kind: BrokerKind): Promise<PlantBroker> {
  switch (kind) {
    case 'mosquitto':
    case 'aedes': {
      const broker = await startBroker({ engine: kind });
      return {
        name: kind === 'mosquitto' ? `mosquitto ${mosquittoVersion()}` : `aedes ${aedesVersion()}`,
        get url() { return broker.url; },
        get port() { return broker.port; },
        stop: () => broker.stop(),
        start: () => broker.start(),
        close: () => broker.kill(),
      };
    }
    case 'nats':
      return startWithRetry(async () => new NatsBroker(await freePort(), await freePort()));
    case 'rabbitmq':
      return startWithRetry(async () => new RabbitBroker(await freePort(), await freePort(), await freePort(), await freePort()));
  }
}

/** A free port can be taken between probing and binding: try again on new ones. */
async function startWithRetry(make: () => Promise<PlantBroker>): Promise<PlantBroker> {
  for (let attempt = 0; ; attempt++) {
    const broker = await make();
    try {
      await broker.start();
      return broker;
    } catch (err) {
      await broker.close();
      if (attempt >= 2) throw err;
    }
  }
}

function mosquittoVersion(): string {
  const out = spawnSync('mosquitto', ['-h'], { encoding: 'utf8' });
  return /version (\S+)/.exec(out.stdout + out.stderr)?.[1] ?? '?';
}

function aedesVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/aedes/package.json'), 'utf8')) as { version: string }).version;
}

/** One broker process at a time, its output's tail kept for the error when it fails to start. */
class Process {
  child: ChildProcess | null = null;
  output = '';

  spawn(command: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    reapOnExit(child);
    this.child = child;
    this.output = '';
    const keep = (chunk: Buffer) => { this.output = (this.output + chunk.toString()).slice(-4000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', () => { if (this.child === child) this.child = null; });
    return child;
  }

  async ready(port: number, timeoutMs: number): Promise<void> {
    const child = this.child!;
    try {
      await waitForPort(port, timeoutMs, () => child.exitCode === null && child.signalCode === null);
    } catch (err) {
      await this.signal('SIGKILL');
      throw new Error(`${(err as Error).message}\n${this.output}`);
    }
  }

  /** Sends the signal and waits for the exit; SIGKILL after killAfterMs. */
  async signal(sig: NodeJS.Signals, killAfterMs = 20_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(timer);
  }
}

/** nats-server with JetStream (MQTT needs it for sessions, QoS 1 and retained messages). */
class NatsBroker implements PlantBroker {
  readonly name = `nats-server ${/v(\d\S*)/.exec(spawnSync('nats-server', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?'}`;
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-nats-'));
  private readonly proc = new Process();

  constructor(readonly port: number, private readonly clientPort: number) {
    fs.writeFileSync(path.join(this.dir, 'nats.conf'), [
      `server_name: floorgate_test_${port}`,
      `listen: 127.0.0.1:${clientPort}`,
      `jetstream { store_dir: ${JSON.stringify(path.join(this.dir, 'jetstream'))} }`,
      `mqtt { listen: 127.0.0.1:${port} }`,
    ].join('\n') + '\n');
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.proc.child) return;
    this.proc.spawn('nats-server', ['-c', path.join(this.dir, 'nats.conf')]);
    await this.proc.ready(this.port, 10_000);
  }

  stop(): Promise<void> {
    return this.proc.signal('SIGTERM');
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * rabbitmq-server with rabbitmq_mqtt, as a node of its own: its own node name, Mnesia, logs,
 * plugins file and config (the machine's /etc/rabbitmq is not read), and its own epmd on a free
 * port (a test must not leave a daemon behind, nor lean on the one a system RabbitMQ runs).
 * Slow: about 10 s to the first start, 6 s to a restart, on 2 cores.
 */
class RabbitBroker implements PlantBroker {
  readonly name = `rabbitmq-server ${/rabbitmq_server-([\d.]+)/.exec(fs.realpathSync(RABBITMQ_SCRIPT!))?.[1] ?? '?'} (rabbitmq_mqtt)`;
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-rabbitmq-'));
  private readonly node = new Process();
  private readonly epmd = new Process();

  constructor(readonly port: number, private readonly epmdPort: number, private readonly nodePort: number, private readonly distPort: number) {
    fs.writeFileSync(path.join(this.dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
    // Read instead of /etc/rabbitmq/rabbitmq-env.conf, whose NODENAME would win over ours.
    fs.writeFileSync(path.join(this.dir, 'rabbitmq-env.conf'), '');
    fs.writeFileSync(path.join(this.dir, 'rabbitmq.conf'), [
      'listeners.tcp = none',
      `mqtt.listeners.tcp.1 = 127.0.0.1:${port}`,
      'mqtt.allow_anonymous = true',
      'log.file = false',
      'log.console = true',
      'log.console.level = warning',
    ].join('\n') + '\n');
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.node.child) return;
    if (!this.epmd.child) {
      this.epmd.spawn('epmd', ['-port', String(this.epmdPort), '-address', '127.0.0.1']);
      await this.epmd.ready(this.epmdPort, 5_000);
    }
    const d = (name: string) => path.join(this.dir, name);
    this.node.spawn(RABBITMQ_SCRIPT!, [], {
      ...process.env,
      // The Erlang cookie is written to $HOME.
      HOME: this.dir,
      // The script then execs the VM: our pid is the VM's, so a SIGKILL leaves nothing behind.
      RUNNING_UNDER_SYSTEMD: 'true',
      ERL_EPMD_PORT: String(this.epmdPort),
      RABBITMQ_CONF_ENV_FILE: d('rabbitmq-env.conf'),
      RABBITMQ_NODENAME: `floorgate-test-${this.port}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.nodePort),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: d('mnesia'),
      RABBITMQ_LOG_BASE: d('log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: d('enabled_plugins'),
      RABBITMQ_CONFIG_FILE: d('rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: d('advanced.config'),
      RABBITMQ_PLUGINS_EXPAND_DIR: d('plugins-expand'),
      RABBITMQ_PID_FILE: d('rabbitmq.pid'),
    });
    await this.node.ready(this.port, 45_000);
  }

  stop(): Promise<void> {
    return this.node.signal('SIGTERM');
  }

  async close(): Promise<void> {
    await this.stop();
    await this.epmd.signal('SIGTERM');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
