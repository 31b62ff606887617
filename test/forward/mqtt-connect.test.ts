/**
 * connectMqtt: the streams floorgate builds itself for mqtt:// (TLS: test/forward/tls.test.ts,
 * test/security/tls.test.ts) behave as mqtt.connect()'s would, and ws:// still goes through
 * mqtt.js's own WebSocket transport.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { connectMqtt } from '../../src/forward/mqtt-connect.js';
import { startBroker, type Broker } from '../helpers/broker.js';

const base: IClientOptions = { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 };

/** Resolves 'connected', or the error (or close) that ended the attempt. */
function outcome(client: MqttClient): Promise<string> {
  return new Promise((resolve) => {
    client.once('connect', () => resolve('connected'));
    client.once('error', (err) => resolve(`error: ${err.message}`));
    client.once('close', () => resolve('closed'));
  }).finally(() => client.end(true)) as Promise<string>;
}

describe('connectMqtt over TCP, against mosquitto with passwords', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker({ users: { 'line@1': 'p:ss/word' } });
  });
  afterAll(async () => {
    await broker.kill();
  });

  it('takes percent-encoded credentials from the URL', async () => {
    const url = `mqtt://line%401:p%3Ass%2Fword@127.0.0.1:${broker.port}`;
    expect(await outcome(connectMqtt(url, { ...base, clientId: 'cred-url' }))).toBe('connected');
  });

  it('prefers the configured username and password to the URL\'s', async () => {
    const url = `mqtt://nobody:wrong@127.0.0.1:${broker.port}`;
    const client = connectMqtt(url, { ...base, clientId: 'cred-opts', username: 'line@1', password: 'p:ss/word' });
    expect(await outcome(client)).toBe('connected');
  });

  it('is refused with wrong credentials, as the broker says', async () => {
    const url = `mqtt://line%401:nope@127.0.0.1:${broker.port}`;
    expect(await outcome(connectMqtt(url, { ...base, clientId: 'cred-bad' }))).toMatch(/^error: .*(Not authorized|Bad username or password)/i);
  });
});

describe('connectMqtt over WebSocket', () => {
  let server: http.Server;
  let aedes: Aedes;
  beforeAll(async () => {
    aedes = await Aedes.createBroker();
    server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => aedes.handle(createWebSocketStream(socket) as never));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('connects with ws:// through mqtt.js\'s WebSocket transport', async () => {
    const { port } = server.address() as AddressInfo;
    expect(await outcome(connectMqtt(`ws://127.0.0.1:${port}`, { ...base, clientId: 'ws-client' }))).toBe('connected');
  });
});
