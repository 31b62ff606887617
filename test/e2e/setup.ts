/**
 * The end-to-end bench the e2e suites share: a temp dir, a real broker with a subscriber to
 * floorgate/#, the simulated PLC as a `floorgate sim modbus` process, and a gateway config for
 * them. Importing it registers an afterEach that kills every CLI process, then stops what was
 * set up here in reverse order: no test file can forget to.
 */
import fs from 'node:fs';
import { afterEach } from 'vitest';
import { startBroker, type Broker, type BrokerOptions } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, writeGatewayConfig, type CliProcess, type GatewayConfigOptions } from '../helpers/gateway.js';
import { subscribe, type Subscriber, type SubscriberOptions } from '../helpers/subscriber.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await stopAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Runs after the test, before whatever was set up earlier is stopped. */
export function afterTest(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** A temp dir, removed after the test. */
export function workDir(): string {
  const dir = tempDir();
  afterTest(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface BenchOptions {
  broker?: BrokerOptions;
  /** Over topic floorgate/#. */
  subscriber?: SubscriberOptions;
}

/**
 * For a test that restarts the broker: a persistent broker and a subscriber with a session, so
 * what the gateway publishes after the restart, before the subscriber has reconnected, is queued
 * for it rather than lost to the test.
 */
export const ACROSS_BROKER_RESTARTS: BenchOptions = { broker: { persistent: true }, subscriber: { session: 'test-subscriber' } };

/** A broker and a subscriber to floorgate/# on it, subscribed; both closed after the test. */
export async function brokerWithSubscriber(opts: BenchOptions = {}): Promise<{ broker: Broker; sub: Subscriber }> {
  const broker = await startBroker(opts.broker);
  afterTest(() => broker.kill());
  const sub = await subscribe(broker.url, { topic: 'floorgate/#', ...opts.subscriber });
  afterTest(() => sub.close());
  return { broker, sub };
}

/** The demo PLC as the CLI serves it, on a free port. */
export async function startPlc(): Promise<{ port: number; proc: CliProcess }> {
  const proc = runCli(['sim', 'modbus', '--port', '0']);
  const line = await proc.waitFor((l) => l.includes('listening on'));
  return { port: Number(/:(\d+) /.exec(line)![1]), proc };
}

export interface Bench {
  dir: string;
  broker: Broker;
  sub: Subscriber;
  plc: { port: number };
  /** The config file gateway() runs. */
  config: string;
  /** Writes the config again for this bench's dir, broker and PLC, with `changes` instead of the first extras. */
  rewriteConfig(changes?: Partial<GatewayConfigOptions>): string;
  /** `floorgate run` on the config. */
  gateway(): CliProcess;
}

/** The whole bench, the gateway config written with `extra` but the gateway not started. */
export async function setup(extra: Partial<GatewayConfigOptions> = {}, opts: BenchOptions = {}): Promise<Bench> {
  const dir = workDir();
  const { broker, sub } = await brokerWithSubscriber(opts);
  const plc = await startPlc();
  const rewriteConfig = (changes: Partial<GatewayConfigOptions> = {}) =>
    writeGatewayConfig({ dir, mqttPort: broker.port, modbusPort: plc.port, ...changes });
  const config = rewriteConfig(extra);
  return { dir, broker, sub, plc, config, rewriteConfig, gateway: () => runCli(['run', '-c', config]) };
}

/** Sends SIGHUP and resolves with the daemon's answer: reloaded, refused or failed. */
export async function sighup(gw: CliProcess): Promise<string> {
  const seen = gw.stdout.length;
  gw.child.kill('SIGHUP');
  return gw.waitFor((l, j) => gw.stdout.indexOf(l) >= seen && /configuration reloaded|reload refused|reload failed/.test(String(j?.msg)));
}
