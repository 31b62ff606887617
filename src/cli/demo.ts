/**
 * `floorgate demo`: the whole pipeline with zero set-up. A simulated Modbus PLC, OPC UA server
 * and scale (over a socat pty pair, where socat exists) and an embedded MQTT broker on free
 * loopback ports, the gateway running config/demo.yaml against them with a
 * throw-away data dir, and a subscriber printing what arrives upstream. Ctrl-C ends it, exit 0,
 * nothing left behind.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { formatProblem } from '../config/load.js';
import { drivers, loadFloorgateConfig } from '../assembly.js';
import { parseDuration } from '../config/units.js';
import { createLogger } from '../log.js';
import { PACKAGE_ROOT } from '../package-info.js';
import { Runtime } from '../runtime.js';
import { startPtyPair } from '../serial/pty-pair.js';
import { startEmbeddedBroker } from '../broker/embedded.js';
import { errorText } from '../error-text.js';
import { EXIT } from './exit.js';

export async function runDemo(opts: { duration?: string; out: (line: string) => void; err: (line: string) => void }): Promise<number> {
  const { out } = opts;
  const stopAfter = opts.duration === undefined ? undefined : parseDuration(opts.duration);
  if (opts.duration !== undefined && stopAfter === undefined) {
    opts.err(`--duration: invalid duration "${opts.duration}": use e.g. 30s, 2m`);
    return EXIT.usage;
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-demo-'));
  const cleanups: (() => Promise<void> | void)[] = [() => fs.rmSync(dataDir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const broker = await startEmbeddedBroker();
    cleanups.push(() => broker.close());
    const plc = await simulator('modbus').start({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => plc.close());
    const oven = await simulator('opcua').start({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => oven.close());
    const scalePath = await startScale(dataDir, cleanups, out);
    const httpPort = await freePort();

    const file = path.join(PACKAGE_ROOT, 'config', 'demo.yaml');
    const loaded = loadFloorgateConfig(file, {
      ...process.env, DEMO_MQTT_PORT: String(broker.port), DEMO_MODBUS_PORT: String(plc.port), DEMO_HTTP_PORT: String(httpPort),
      DEMO_OPCUA_PORT: String(oven.port), DEMO_SERIAL_PATH: scalePath ?? '/dev/null',
    });
    if (!loaded.ok) {
      for (const p of loaded.problems) out(formatProblem(p));
      await cleanup();
      return EXIT.config;
    }
    const config = {
      ...loaded.config,
      gateway: { ...loaded.config.gateway, data_dir: dataDir },
      devices: loaded.config.devices.filter((d) => d.driver !== 'serial' || scalePath !== undefined),
    };
    // The gateway's own log goes to stderr at warn, so stdout shows only what arrives upstream.
    const runtime = await Runtime.open(config, createLogger('warn', process.stderr), drivers);
    await runtime.start();
    cleanups.push(() => runtime.stop());

    out(`floorgate demo: simulated Modbus PLC on 127.0.0.1:${plc.port}, OPC UA server on opc.tcp://127.0.0.1:${oven.port}` +
      `${scalePath ? `, scale on ${scalePath}` : ''}; embedded MQTT broker on ${broker.url}`);
    out(`gateway "${config.gateway.id}" running ${file}`);
    out(`status page: http://127.0.0.1:${httpPort}/  (health: /healthz, metrics: /metrics)`);
    out(`subscribed to ${config.mqtt.topic_prefix}/#; Ctrl-C stops the demo\n`);

    const subscriber = mqtt.connect(broker.url, { clientId: 'floorgate-demo-viewer' });
    cleanups.push(() => subscriber.endAsync(true));
    subscriber.subscribe(`${config.mqtt.topic_prefix}/#`, { qos: 1 });
    subscriber.on('message', (topic, payload) => out(describeMessage(topic, payload)));

    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
      // A reader that went away (`floorgate demo | head`) ends the demo like Ctrl-C does.
      process.stdout.on('error', () => resolve());
      if (stopAfter !== undefined) setTimeout(resolve, stopAfter).unref();
    });
    out('\nstopping the demo…');
    await cleanup();
    return EXIT.ok;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

interface DemoReading { tag: string; value: unknown; quality: string; error?: string }

/** One line per message: seq, device, live/historical, then tag=value pairs. */
function describeMessage(topic: string, payload: Buffer): string {
  const time = new Date().toISOString().slice(11, 23);
  let msg: { seq?: number; device?: string; readings?: DemoReading[]; historical?: boolean; online?: boolean };
  try {
    msg = JSON.parse(payload.toString('utf8'));
  } catch {
    return `${time}  ${topic}  (${payload.length} bytes, not JSON)`;
  }
  if (msg.online !== undefined) return `${time}  ${topic}  gateway ${msg.online ? 'online' : 'offline'}`;
  const readings = (msg.readings ?? []).map((r) =>
    r.quality === 'good' ? `${r.tag}=${show(r.value)}` : `${r.tag}=${r.quality}${r.error ? `(${r.error})` : ''}`);
  return `${time}  seq ${String(msg.seq).padStart(5)}  ${msg.device ?? topic}${msg.historical ? ' [historical]' : ''}  ${readings.join('  ')}`;
}

function show(value: unknown): string {
  return typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(2) : JSON.stringify(value);
}

/**
 * A simulated scale behind a socat pty pair; undefined (and the scale left out of the demo)
 * where socat is not installed.
 */
async function startScale(dir: string, cleanups: (() => Promise<void> | void)[], out: (line: string) => void): Promise<string | undefined> {
  const simulator = drivers.lineSimulator('serial');
  if (!simulator) return undefined;
  let pty;
  try {
    pty = await startPtyPair(path.join(dir, 'scale-sim'), path.join(dir, 'scale'));
  } catch (err) {
    out(`(no serial scale in this demo: ${errorText(err)}; install socat to see one)`);
    return undefined;
  }
  cleanups.push(() => pty.close());
  const scale = await simulator.start({ path: pty.dev });
  cleanups.push(() => scale.close());
  return pty.peer;
}

/** The demo's simulators are registered by the drivers it runs. */
function simulator(name: string) {
  const sim = drivers.networkSimulator(name);
  if (!sim) throw new Error(`no ${name} simulator registered`);
  return sim;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
