/**
 * The fault suite's bench: a simulated PLC (in this process), a real mosquitto, a fault proxy
 * in front of each of them, a subscriber on the broker itself (never behind a proxy, so what it
 * sees is what the broker accepted), and `floorgate run` as a child process with its HTTP
 * listener on a free port. Completeness is judged by the audit library; with `recordServed`, also
 * against every request the PLC answered.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defaultSimMap, startModbusSim, type ModbusSim, type ServedRequest, type SimMap } from '../../drivers/modbus/sim.js';
import { AuditSession, type CompletenessReport } from '../../src/audit/completeness.js';
import { startBroker, type Broker } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, writeGatewayConfig, type CliProcess, type GatewayConfigOptions } from '../helpers/gateway.js';
import { subscribe, type Received, type Subscriber } from '../helpers/subscriber.js';
import { recordFigures } from '../helpers/results.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

export const GATEWAY = 'test-gw';

/**
 * The demo PLC with `counter` (holding 2, uint32) counting milliseconds instead of seconds: no
 * two polls are served in the same millisecond, so the value names the poll it was served to,
 * upstream too.
 */
export const POLL_STAMPED_MAP: SimMap = {
  tags: defaultSimMap.tags.map((t) => (t.name === 'counter' ? { ...t, counter: { step: 1, every: 1 } } : t)),
};

export interface ServedPoll {
  /** Date.now() when the PLC served it. */
  readonly time: number;
  readonly stamp: number;
  readonly temperature: number;
}

/** press-1's reads of holding 0..3: temperature (float32 at 0) and the stamp (uint32 at 2), ABCD. */
export function servedPolls(served: readonly ServedRequest[]): ServedPoll[] {
  return served.filter((r) => r.fc === 3 && r.address === 0 && r.count === 4).map((r) => {
    const bytes = Buffer.alloc(8);
    r.values.forEach((word, i) => bytes.writeUInt16BE(word as number, 2 * i));
    return { time: r.time, temperature: bytes.readFloatBE(0), stamp: bytes.readUInt32BE(4) };
  });
}

export interface RigOptions {
  /** Serve POLL_STAMPED_MAP and keep every request the PLC answers in `served`. */
  readonly recordServed?: boolean;
}

export interface Gateway {
  readonly proc: CliProcess;
  readonly httpPort: number;
}

export class FaultRig {
  readonly dir = tempDir('floorgate-faults-');
  broker!: Broker;
  plc!: ModbusSim;
  /** floorgate → broker. */
  mqttProxy!: TcpProxy;
  /** floorgate → PLC. */
  plcProxy!: TcpProxy;
  sub!: Subscriber;
  config = '';
  /** Every request the PLC answered with data, in order; only with `recordServed`. */
  readonly served: ServedRequest[] = [];

  static async start(extra: Partial<GatewayConfigOptions> = {}, opts: RigOptions = {}): Promise<FaultRig> {
    const rig = new FaultRig();
    try {
      // Persistent broker, subscriber with a session: across a broker restart the subscriber still
      // receives everything the broker accepted, whoever reconnects first.
      rig.broker = await startBroker({ persistent: true });
      rig.plc = await startModbusSim(opts.recordServed ? { map: POLL_STAMPED_MAP, onServed: (r) => rig.served.push(r) } : {});
      rig.mqttProxy = await startProxy({ port: rig.broker.port });
      rig.plcProxy = await startProxy({ port: rig.plc.port });
      rig.sub = await subscribe(rig.broker.url, { topic: 'floorgate/#', session: 'fault-rig-subscriber' });
    } catch (err) {
      // Whatever did start is stopped: the caller never gets a rig to close.
      await rig.close();
      throw err;
    }
    rig.config = writeGatewayConfig({ dir: rig.dir, mqttPort: rig.mqttProxy.port, modbusPort: rig.plcProxy.port, httpPort: 0, ...extra });
    return rig;
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get bufferFile(): string {
    return path.join(this.dataDir, 'buffer.db');
  }

  /** Starts `floorgate run` and resolves once it is up, with the HTTP port it bound. */
  async gateway(): Promise<Gateway> {
    const proc = runCli(['run', '-c', this.config]);
    const line = await proc.waitFor((_l, j) => j?.msg === 'floorgate started', 20_000);
    return { proc, httpPort: (JSON.parse(line) as { http_port: number }).http_port };
  }

  audit(): CompletenessReport {
    return audit(this.sub.messages);
  }

  /** SIGTERM to the gateway, the run's figures printed, the rig closed; resolves with the exit code. */
  async finish(gw: Gateway | undefined, test: string, faults: number): Promise<number | string | undefined> {
    const code = await gw?.proc.stop('SIGTERM');
    const report = this.audit();
    recordFigures(test, { faults, messages: report.messages, readings: report.readings, missing: report.missing, duplicates: report.duplicates });
    await this.close();
    return code;
  }

  async close(): Promise<void> {
    await stopAll();
    await this.sub?.close();
    await this.mqttProxy?.close();
    await this.plcProxy?.close();
    await this.plc?.close();
    await this.broker?.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The data messages of the test gateway, judged by the same code `floorgate audit` runs. */
export function audit(messages: readonly Received[]): CompletenessReport {
  const session = new AuditSession({ prefix: 'floorgate', gateways: [GATEWAY] });
  for (const m of messages) session.observe(m.topic, m.raw, m.arrivedAt);
  return session.report(Date.now()).gateways[GATEWAY];
}

export const dataMessages = (ms: readonly Received[]): Received[] => ms.filter((m) => typeof m.payload?.seq === 'number');

export interface Reading {
  tag: string;
  value: unknown;
  quality: string;
  error?: string;
}

/** Every reading of press-1 in the data messages that arrived after index `from`. */
export function readingsSince(sub: Subscriber, from: number): Reading[] {
  return dataMessages(sub.messages.slice(from)).flatMap((m) => m.payload.readings as Reading[]);
}

export async function getJson(port: number, urlPath: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${urlPath}`);
  return { status: res.status, body: await res.json() };
}

export async function getText(port: number, urlPath: string): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}${urlPath}`)).text();
}

/**
 * The value of one sample in Prometheus text, e.g. metric(text, 'floorgate_device_up',
 * { device: 'press-1' }); undefined when absent.
 */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** Polls check() until it returns something other than undefined/false; fails after timeoutMs. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(100);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

