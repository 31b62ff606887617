/**
 * Opens an mqtt.js client for the broker URL. For mqtt:// and mqtts:// the TCP or TLS stream is
 * built here, as mqtt.js's own tcp and tls builders build it, and handed to its MqttClient:
 * mqtt.connect() loads every transport it knows on first use (WebSocket with zlib and https,
 * SOCKS with its DNS and address parsing), ~4 MB of RSS a gateway talking MQTT over TCP never
 * needs. ws:// and wss://, and a SOCKS proxy set in MQTTJS_SOCKS_PROXY, go through
 * mqtt.connect(), loaded then.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type { IClientOptions, MqttClient } from 'mqtt';

const require = createRequire(import.meta.url);

/** Where an mqtt:// or mqtts:// broker listens; null for transports built by mqtt.js itself. */
export function brokerAddress(brokerUrl: string, clientCert = false): { host: string; port: number; secure: boolean } | null {
  const url = new URL(brokerUrl);
  if ((url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') || process.env.MQTTJS_SOCKS_PROXY) return null;
  const secure = url.protocol === 'mqtts:' || clientCert;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  return { host, port: url.port ? Number(url.port) : secure ? 8883 : 1883, secure };
}

export function connectMqtt(brokerUrl: string, options: IClientOptions): MqttClient {
  const address = brokerAddress(brokerUrl, options.cert !== undefined && options.key !== undefined);
  if (!address) return (require('mqtt') as typeof import('mqtt')).connect(brokerUrl, options);
  const url = new URL(brokerUrl);
  const { host, port, secure } = address;
  const opts: IClientOptions = { ...options, protocol: secure ? 'mqtts' : 'mqtt', hostname: host, port };
  // Credentials in the URL (mqtt://user:password@host), as mqtt.connect() reads them.
  if (url.username && opts.username === undefined) opts.username = decodeURIComponent(url.username);
  if (url.password && opts.password === undefined) opts.password = decodeURIComponent(url.password);
  const { default: Client } = require('mqtt/lib/client') as typeof import('mqtt/lib/client');
  return new Client((client) => (secure ? tlsStream(client, opts, host, port) : net.createConnection({ host, port })), opts);
}

function tlsStream(client: MqttClient, opts: IClientOptions, host: string, port: number): TLSSocket {
  const tls = require('node:tls') as typeof import('node:tls');
  const rejectUnauthorized = opts.rejectUnauthorized !== false;
  const tlsOptions: ConnectionOptions = { host, port, ca: opts.ca, cert: opts.cert, key: opts.key, rejectUnauthorized };
  if (net.isIP(host) === 0) tlsOptions.servername = host;
  const socket = tls.connect(tlsOptions);
  // Until the handshake is through, a TLS failure is the connection attempt's error.
  const onHandshakeError = (err: Error): void => {
    if (rejectUnauthorized) client.emit('error', err);
    socket.end();
  };
  socket.on('error', onHandshakeError);
  socket.on('secureConnect', () => {
    if (rejectUnauthorized && !socket.authorized) socket.emit('error', new Error('TLS not authorized'));
    else socket.removeListener('error', onHandshakeError);
  });
  return socket;
}
