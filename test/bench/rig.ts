/**
 * The bench rig for the process-level figures: the fast simulator in its own process, mosquitto
 * (test/helpers/broker.ts), and the bench process itself all on the helper core, so the gateway
 * (or the raw pipeline) has the other core to itself; a QoS 1 subscriber that records how late
 * each reading arrives; and the raw pipeline baseline as a child process.
 */
import { spawn } from 'node:child_process';
import mqtt from 'mqtt';
import { startBroker, type Broker } from '../helpers/broker.js';
import { forkFastSim, type ForkedSim } from './fast-sim.js';
import { track } from './gateway.js';
import { HELPER_CORE, onCore, pin } from './procfs.js';
import type { RawCounters, RawPipelineOptions } from './raw-pipeline.js';

export interface Rig {
  readonly sim: ForkedSim;
  readonly broker: Broker;
  close(): Promise<void>;
}

export async function startRig(): Promise<Rig> {
  pin(process.pid, HELPER_CORE);
  const sim = await forkFastSim();
  pin(sim.pid, HELPER_CORE);
  const broker = await startBroker({ engine: 'mosquitto' });
  if (broker.pid !== null) pin(broker.pid, HELPER_CORE);
  return {
    sim,
    broker,
    async close() {
      await broker.kill();
      await sim.close();
      pin(process.pid, 'all');
    },
  };
}

/** The broker was restarted (an outage): pin it again. */
export function repin(broker: Broker): void {
  if (broker.pid !== null) pin(broker.pid, HELPER_CORE);
}

export interface LatencyProbe {
  /** Arrival − read timestamp of every reading received since the last reset, ms. */
  readonly delays: number[];
  reset(): void;
  close(): Promise<void>;
}

/** Subscribes to one gateway's data at QoS 1 and records each reading's delay. */
export async function latencyProbe(url: string, gatewayId: string): Promise<LatencyProbe> {
  const client = mqtt.connect(url, { protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  const probe = {
    delays: [] as number[],
    reset() { this.delays = []; },
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
  client.on('message', (_topic, raw) => {
    const arrived = Date.now();
    const msg = JSON.parse(raw.toString()) as { readings?: { ts: number }[] };
    if (!msg.readings) return;
    for (const r of msg.readings) probe.delays.push(arrived - r.ts);
  });
  await new Promise<void>((resolve, reject) => {
    client.once('error', reject);
    client.once('connect', () => client.subscribe(`floorgate/${gatewayId}/+`, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  });
  return probe;
}

export interface RawProcess {
  readonly pid: number;
  /** The latest counters the pipeline printed. */
  counters(): RawCounters & { at: number };
  stop(): Promise<void>;
}

export async function spawnRawPipeline(o: RawPipelineOptions, core: number): Promise<RawProcess> {
  const script = new URL('./raw-pipeline.js', import.meta.url).pathname;
  const argv = [...onCore(core), process.execPath, script, JSON.stringify(o)];
  const child = track(spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] }));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let latest: RawCounters & { at: number } = { readings: 0, published: 0, at: performance.now() };
  let rest = '';
  let first: () => void;
  const started = new Promise<void>((resolve) => { first = resolve; });
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop()!;
    const last = lines[lines.length - 1];
    if (last) {
      latest = { ...(JSON.parse(last) as RawCounters), at: performance.now() };
      first();
    }
  });
  await Promise.race([started, exited.then(() => { throw new Error('the raw pipeline exited before it started'); })]);
  return {
    pid: child.pid!,
    counters: () => latest,
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
