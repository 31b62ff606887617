/**
 * Both ends of the write-command tests: the gateway's runtime in this process (started from a
 * config text), and a SCADA-like MQTT client that watches one device's data and the
 * `/set/result` answers and sends `/set` commands.
 */
import mqtt from 'mqtt';
import { drivers, loadFloorgateConfigText } from '../../src/assembly.js';
import { Metrics } from '../../src/metrics.js';
import { Runtime } from '../../src/runtime.js';
import { captureLog, until, type LogCapture } from '../forward/setup.js';

export interface Gateway {
  readonly runtime: Runtime;
  readonly capture: LogCapture;
  readonly metrics: Metrics;
}

export async function startGateway(configText: string, file: string): Promise<Gateway> {
  const loaded = loadFloorgateConfigText(configText, file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const capture = captureLog();
  const metrics = new Metrics(false);
  const runtime = await Runtime.open(loaded.config, capture.log, drivers, metrics);
  await runtime.start();
  return { runtime, capture, metrics };
}

export interface Scada {
  readonly client: mqtt.MqttClient;
  readonly results: { topic: string; body: Record<string, unknown> }[];
  /** The readings of the watched device's data topic, in arrival order. */
  readonly data: { tag: string; value: unknown }[];
  /**
   * Publishes one command to `{device}/{tag}/set` and resolves with its result; spaced out to
   * stay under the gateway's command rate limit.
   */
  command(tag: string, payload: string | Buffer, device?: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Subscribes to `deviceTopic` (`{prefix}/{gateway}/{device}`), its results, and `moreTopics`.
 * `command` addresses other devices of the same gateway by name.
 */
export async function connectScada(brokerUrl: string, deviceTopic: string, moreTopics: string[] = []): Promise<Scada> {
  const client = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  const results: Scada['results'] = [];
  const data: Scada['data'] = [];
  client.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString());
    if (topic.endsWith('/set/result')) results.push({ topic, body });
    else if (topic === deviceTopic) for (const r of body.readings) data.push({ tag: r.tag, value: r.value });
  });
  await client.subscribeAsync([`${deviceTopic}/+/set/result`, deviceTopic, ...moreTopics], { qos: 1 });
  const gatewayTopic = deviceTopic.slice(0, deviceTopic.lastIndexOf('/'));
  return {
    client,
    results,
    data,
    async command(tag, payload, device) {
      await new Promise((r) => setTimeout(r, 110));
      const before = results.length;
      const topic = `${device === undefined ? deviceTopic : `${gatewayTopic}/${device}`}/${tag}/set`;
      await client.publishAsync(topic, payload, { qos: 1 });
      await until(() => results.slice(before).some((r) => r.topic === `${topic}/result`), 10_000, `the result of ${topic}`);
      return results.slice(before).find((r) => r.topic === `${topic}/result`)!.body;
    },
    close: () => client.endAsync(true),
  };
}
