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
import { refuseConfig } from './config-refused.js';
import { drivers, loadFloorgateConfig } from '../assembly.js';
import { parseDuration } from '../config/units.js';
import { createLogger } from '../log.js';
import { logAsText } from './log-text.js';
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
  let stopping = false;
  const cleanup = async () => {
    stopping = true;
    for (const fn of cleanups.reverse()) await fn();
  };
  const keep = <T extends { close(): Promise<void> }>(started: T) => {
    cleanups.push(() => started.close());
    return started;
  };
  out('floorgate demo: starting a simulated Modbus PLC, scale and OPC UA server, and an MQTT broker');
  out('(the OPC UA server takes a few seconds to load: the PLC and the scale report first)');
  try {
    const starting = [
      startEmbeddedBroker().then(keep), simulator('modbus').start({ host: '127.0.0.1', port: 0 }).then(keep),
      startScale(dataDir, cleanups, out), freePort(), freePort(),
    ] as const;
    // Every one started or failed, so that a failure leaves none running.
    await Promise.allSettled(starting);
    const [broker, plc, scalePath, httpPort, ovenPort] = await Promise.all(starting);

    const file = path.join(PACKAGE_ROOT, 'config', 'demo.yaml');
    const loaded = loadFloorgateConfig(file, {
      ...process.env, DEMO_MQTT_PORT: String(broker.port), DEMO_MODBUS_PORT: String(plc.port), DEMO_HTTP_PORT: String(httpPort),
      DEMO_OPCUA_PORT: String(ovenPort), DEMO_SERIAL_PATH: scalePath ?? '/dev/null',
    });
    if (!loaded.ok) {
      await cleanup();
      return refuseConfig(loaded, opts.err);
    }
    const config = {
      ...loaded.config,
      gateway: { ...loaded.config.gateway, data_dir: dataDir },
      devices: loaded.config.devices.filter((d) => d.driver !== 'serial' || scalePath !== undefined),
    };
    let oven: Promise<{ close(): Promise<void> } | undefined> = Promise.resolve(undefined);
    cleanups.push(async () => (await oven)?.close());
    // The gateway's own log goes to stderr at warn, as text, so stdout shows only what arrives upstream.
    // It starts without the OPC UA device, whose server is not up yet, and gets it by a reload
    // (as SIGHUP would) once the server is: a device that is down at first would log warnings.
    const runtime = await Runtime.open({ ...config, devices: config.devices.filter((d) => d.driver !== 'opcua') }, createLogger('warn', logAsText(process.stderr)), drivers);
    await runtime.start();
    cleanups.push(() => runtime.stop());

    out(`simulated Modbus PLC on 127.0.0.1:${plc.port}${scalePath ? `, scale on ${scalePath}` : ''}; embedded MQTT broker on ${broker.url}`);
    out(`gateway "${config.gateway.id}" running ${file}`);
    out(`status page: http://127.0.0.1:${httpPort}/  (health: /healthz, metrics: /metrics)`);
    out(`subscribed to ${config.mqtt.topic_prefix}/#; Ctrl-C stops the demo\n`);

    const subscriber = mqtt.connect(broker.url, { clientId: 'floorgate-demo-viewer' });
    cleanups.push(() => subscriber.endAsync(true));
    subscriber.subscribe(`${config.mqtt.topic_prefix}/#`, { qos: 1 });
    // Loading node-opcua holds the event loop for a second or more: the OPC UA server starts
    // once the first reading is upstream (or after 3 s), so it neither delays that reading nor
    // makes the PLC's first connect time out.
    let firstReading!: () => void;
    const readingArrived = new Promise<void>((resolve) => { firstReading = resolve; });
    setTimeout(firstReading, 3000).unref();
    subscriber.on('message', (topic, payload) => {
      const line = describeMessage(topic, payload);
      out(line);
      if (line.includes('  seq ')) firstReading();
    });
    oven = readingArrived.then(() => stopping ? undefined : startOven(ovenPort, async () => {
      if (stopping) return;
      await runtime.reload(config);
      out(`simulated OPC UA server on opc.tcp://127.0.0.1:${ovenPort}; the gateway reads the oven now`);
    }, out));

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

/**
 * The OPC UA server, then the gateway's OPC UA device (addDevice); undefined (and the demo
 * without it) when the server cannot start.
 */
async function startOven(port: number, addDevice: () => Promise<void>, out: (line: string) => void) {
  let oven;
  try {
    oven = await simulator('opcua').start({ host: '127.0.0.1', port });
    await addDevice();
  } catch (err) {
    await oven?.close();
    out(`(no OPC UA server in this demo: ${errorText(err)})`);
    return undefined;
  }
  return oven;
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
