/**
 * The mqtt.js options of one connection attempt (forwarder.ts): no reconnects, no queue and no
 * resubscribing of mqtt.js's own, since the forwarder does all of that against the store.
 */
import fs from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { FloorgateConfig } from '../config/types.js';
import type { OutgoingMessage } from './format.js';

/** CONNACK wait: the keep-alive, within these bounds (an attempt into a dead link must end). */
const CONNECT_TIMEOUT_MIN_MS = 5_000;
const CONNECT_TIMEOUT_MAX_MS = 30_000;

export function clientOptions(m: FloorgateConfig['mqtt'], will: OutgoingMessage): IClientOptions {
  const opts: IClientOptions = {
    clientId: m.client_id,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: Math.min(CONNECT_TIMEOUT_MAX_MS, Math.max(CONNECT_TIMEOUT_MIN_MS, m.keepalive)),
    keepalive: m.keepalive > 0 ? Math.max(1, Math.round(m.keepalive / 1000)) : 0,
    resubscribe: false,
    queueQoSZero: false,
    // mqtt-packet's number cache is 65,536 Buffers (~7 MB of heap) to save a 2-byte
    // allocation per packet: a poor trade on a Raspberry Pi (npm run bench, memory).
    writeCache: false,
    will: { topic: will.topic, payload: Buffer.from(will.payload), qos: will.qos, retain: will.retain },
  };
  // mqtt.js traces every packet through debug(), whose rest parameters allocate an array per
  // call even when tracing is off (~15 B per reading at 10,000 readings/s); DEBUG=mqttjs* still
  // gets its trace.
  if (!process.env.DEBUG?.includes('mqttjs')) opts.log = noTrace;
  if (m.username !== undefined) opts.username = m.username;
  if (m.password !== undefined) opts.password = m.password;
  if (m.tls) {
    // Read at every attempt, so renewed certificates are picked up without a restart.
    if (m.tls.ca) opts.ca = fs.readFileSync(m.tls.ca);
    if (m.tls.cert) opts.cert = fs.readFileSync(m.tls.cert);
    if (m.tls.key) opts.key = fs.readFileSync(m.tls.key);
    opts.rejectUnauthorized = !m.tls.insecure;
  }
  return opts;
}

function noTrace(): void {}
