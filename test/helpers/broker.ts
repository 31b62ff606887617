/**
 * A real MQTT broker for tests: mosquitto on 127.0.0.1 and a free port, with a generated config
 * in a temp dir. stop()/start() restart it on the same port (an outage the client must ride
 * out); kill() is SIGKILL. Without a mosquitto binary it falls back to an in-process aedes
 * broker (MQTT 3.1.1 only) behind the same interface.
 *
 * Never port 1883: a system mosquitto may already listen there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { reapOnExit } from './reap.js';
import { needTool } from './tools.js';

export interface BrokerOptions {
  /** Fixed port; default a free one. */
  port?: number;
  /** user → password. When given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** PEM file paths: the listener speaks TLS (url mqtts://). */
  tls?: { cert: string; key: string; ca?: string; requireCertificate?: boolean };
  /** Default mosquitto when installed, else aedes. */
  engine?: 'mosquitto' | 'aedes';
  /**
   * mosquitto's max_packet_size: a client sending a larger packet is disconnected at once (it
   * counts the remaining length plus one byte). mosquitto only.
   */
  maxPacketSize?: number;
  /**
   * Sessions, subscriptions and queued messages outlive stop()/start(), as on a production
   * broker: a subscriber with a session (subscribe(url, { session })) then misses nothing the
   * broker accepted while it was reconnecting. kill() still loses them (no shutdown save).
   */
  persistent?: boolean;
}

export interface Broker {
  /** mqtt://127.0.0.1:PORT (mqtts:// with tls). */
  readonly url: string;
  readonly port: number;
  /** The mosquitto process id while it runs; null when stopped or in-process (aedes). */
  readonly pid: number | null;
  readonly kind: 'mosquitto' | 'aedes';
  /** SIGTERM and wait for exit (clients see a clean close). */
  stop(): Promise<void>;
  /** Start again on the same port; resolves once it accepts TCP connections. */
  start(): Promise<void>;
  /** SIGKILL, no waiting for anything but the exit; a persistent broker's state is discarded. */
  kill(): Promise<void>;
}

const READY_TIMEOUT_MS = 5_000;

export function hasMosquitto(): boolean {
  return spawnSync('mosquitto', ['-h'], { stdio: 'ignore' }).error === undefined;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  // aedes stands in only off CI, and says so: under CI=true a missing mosquitto fails the test.
  const engine = opts.engine ?? (needTool('mosquitto', hasMosquitto(), 'tests against a real broker (aedes stands in)') ? 'mosquitto' : 'aedes');
  const broker = engine === 'mosquitto' ? new MosquittoBroker(opts) : new AedesBroker(opts);
  // A free port can be taken by someone else between probing and binding: retry on a new one.
  for (let attempt = 0; ; attempt++) {
    broker.port = opts.port ?? (await freePort());
    try {
      await broker.start();
      return broker;
    } catch (err) {
      if (opts.port !== undefined || attempt >= 2) throw err;
    }
  }
}

/** A port the kernel considers free right now (bind to 0, read it back, release it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once something accepts a TCP connection on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error(`broker exited before listening on ${port}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

class MosquittoBroker implements Broker {
  readonly kind = 'mosquitto' as const;
  port = 0;
  private child: ChildProcess | null = null;
  private output = '';
  /** mosquitto.db, kept across restarts when persistent; removed with the process otherwise. */
  private readonly stateDir: string | null;

  constructor(private readonly opts: BrokerOptions) {
    this.stateDir = opts.persistent ? fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-broker-state-')) : null;
  }

  get url(): string {
    return `${this.opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  async start(): Promise<void> {
    if (this.child) return;
    // Config and password file, removed when the broker exits.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-broker-'));
    if (this.opts.users) writePasswordFile(path.join(dir, 'passwd'), this.opts.users);
    const conf = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(conf, this.config(dir));
    const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    reapOnExit(child);
    this.child = child;
    this.output = '';
    // Keep the tail of the broker's own log for the error message when it fails to start.
    const keep = (chunk: Buffer) => { this.output = (this.output + chunk.toString()).slice(-4000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      if (this.child === child) this.child = null;
      fs.rmSync(dir, { recursive: true, force: true });
    });
    try {
      await waitForPort(this.port, READY_TIMEOUT_MS, () => !exited);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${this.output}`);
    }
  }

  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** SIGKILL; a persistent broker's saved state goes with it (kill is how tests end a broker). */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
    if (this.stateDir) fs.rmSync(this.stateDir, { recursive: true, force: true });
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, sig);
    await exited;
  }

  private config(dir: string): string {
    const lines = [
      `listener ${this.port} 127.0.0.1`,
      ...(this.stateDir ? ['persistence true', `persistence_location ${this.stateDir}/`] : ['persistence false']),
      // Running as root, mosquitto would drop to user "mosquitto", who cannot read our temp dir.
      'user root',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      // Tests subscribe at QoS 1 and read fast bursts: no per-client queue limit or drops.
      'max_queued_messages 0',
      'max_inflight_messages 0',
    ];
    if (this.opts.maxPacketSize !== undefined) lines.push(`max_packet_size ${this.opts.maxPacketSize}`);
    if (this.opts.users) {
      lines.push('allow_anonymous false', `password_file ${path.join(dir, 'passwd')}`);
    } else {
      lines.push('allow_anonymous true');
    }
    const tls = this.opts.tls;
    if (tls) {
      lines.push(`certfile ${tls.cert}`, `keyfile ${tls.key}`);
      if (tls.ca) lines.push(`cafile ${tls.ca}`);
      if (tls.requireCertificate) lines.push('require_certificate true');
    }
    return lines.join('\n') + '\n';
  }
}

function writePasswordFile(file: string, users: Record<string, string>): void {
  fs.writeFileSync(file, '');
  for (const [user, password] of Object.entries(users)) {
    const r = spawnSync('mosquitto_passwd', ['-b', file, user, password], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr || r.error}`);
  }
}

/** In-process fallback. Each start() is a fresh broker: like mosquitto without persistence. */
class AedesBroker implements Broker {
  readonly kind = 'aedes' as const;
  readonly pid = null;
  port = 0;
  private server: net.Server | null = null;
  private aedes: Awaited<ReturnType<typeof AedesBroker.prototype.createAedes>> | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly opts: BrokerOptions) {
    if (opts.maxPacketSize !== undefined) throw new Error('maxPacketSize needs mosquitto: aedes has no packet size limit');
  }

  get url(): string {
    return `${this.opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    // Persistent: the same in-memory broker serves again, sessions and queues included.
    const aedes = this.aedes ?? (await this.createAedes());
    const tls = this.opts.tls;
    const onConnection = (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      aedes.handle(socket);
    };
    const server = tls
      ? (await import('node:tls')).createServer({
          cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key),
          ca: tls.ca ? fs.readFileSync(tls.ca) : undefined, requestCert: tls.requireCertificate ?? false,
          rejectUnauthorized: tls.requireCertificate ?? false,
        }, onConnection)
      : net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.server = server;
    this.aedes = aedes;
  }

  private async createAedes() {
    const { Aedes } = await import('aedes');
    const users = this.opts.users;
    return Aedes.createBroker(users ? {
      authenticate: (_client, username, password, done) => {
        if (username !== undefined && users[username] === password?.toString()) return done(null, true);
        done(Object.assign(new Error('bad user name or password'), { returnCode: 4 as const }), null);
      },
    } : {});
  }

  async stop(): Promise<void> {
    await this.closeListener();
    if (!this.opts.persistent) await this.closeBroker();
  }

  async kill(): Promise<void> {
    await this.closeListener();
    await this.closeBroker();
  }

  private async closeListener(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async closeBroker(): Promise<void> {
    const aedes = this.aedes;
    this.aedes = null;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
}
