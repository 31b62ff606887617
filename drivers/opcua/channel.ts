/**
 * Opening the way to a server: secure channel (with the trust check for Sign/SignAndEncrypt)
 * and session (anonymous or user/password). Each channel is a fresh OPCUAClient with node-opcua's
 * own reconnection switched off: recovery is the driver's state machine, not a hidden retry loop.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import {
  AttributeIds, OPCUAClient, ReadRequest, TimestampsToReturn, UserTokenType, WriteRequest, makeApplicationUrn,
  type ClientSession, type DataValue, type NodeId, type ReadResponse, type ReadValueIdOptions, type ClientSessionPublishService, type ClientSessionRawSubscriptionService,
  type OPCUAClientOptions, type StatusCode, type UserIdentityInfo, type Variant, type WriteResponse,
} from 'node-opcua-client';
import type { OpcuaDevice } from './schema.js';
import type { Pki } from './pki.js';
import { MODES, POLICIES, chooseEndpoint, unusable, type Security } from './security.js';
import { errorText } from '../../src/error-text.js';

export interface ChannelSettings {
  readonly device: OpcuaDevice;
  readonly pki: Pki;
  readonly log: Logger;
  /** ms, asked of the server in CreateSession. */
  readonly sessionTimeout: number;
  /** ms; node-opcua drops a socket idle for half of it. */
  readonly transportTimeout: number;
  /** ms: the longest one connect (channel + session) may take. */
  readonly connectTimeout: number;
}

/** The least time a service call other than Read is given (a busy server signs and checks certificates). */
const SERVICE_TIMEOUT_MS = 5000;

const NO_SECURITY: Security = { mode: 'None', policy: 'None' };

function clientOptions(s: ChannelSettings, security: Security): OPCUAClientOptions {
  const d = s.device;
  return {
    applicationName: 'floorgate',
    applicationUri: makeApplicationUrn(os.hostname(), 'floorgate'),
    clientName: `floorgate-${d.name}`,
    clientCertificateManager: s.pki.manager,
    securityMode: MODES[security.mode],
    securityPolicy: POLICIES[security.policy],
    // Servers often advertise a hostname the gateway cannot resolve; the configured endpoint wins.
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    // A lost channel must not close the session: the state machine reactivates it on a new one.
    keepPendingSessionsOnDisconnect: true,
    requestedSessionTimeout: s.sessionTimeout,
    // Service calls (session, subscription, browse) get a generous limit; Reads carry the device's own.
    defaultTransactionTimeout: Math.max(d.timeout, SERVICE_TIMEOUT_MS),
    transportTimeout: s.transportTimeout,
  };
}

/**
 * A connected client (secure channel open). Unless the mode is None, GetEndpoints first (over an
 * unsecured channel) for the endpoint to use and the server certificate to check.
 */
export async function openChannel(s: ChannelSettings, signal?: AbortSignal): Promise<OPCUAClient> {
  const d = s.device;
  const cannot = d.security_mode === 'None' || d.security_policy === 'auto' ? undefined : unusable(d.security_policy);
  if (cannot) throw new Error(cannot);
  return withDeadline(s, signal, async (track) => {
    const security = d.security_mode === 'None' ? NO_SECURITY : await checkServer(s, track);
    const client = track(OPCUAClient.create(clientOptions(s, security)));
    await client.connect(d.endpoint);
    return client;
  });
}

/** The security `auto` last chose per device, so that only a new choice is logged. */
const chosen = new WeakMap<OpcuaDevice, string>();

/** Picks the endpoint (security.ts) and, when it is secured, checks its certificate. */
async function checkServer(s: ChannelSettings, track: (c: OPCUAClient) => OPCUAClient): Promise<Security> {
  const d = s.device;
  const probe = track(OPCUAClient.create(clientOptions(s, NO_SECURITY)));
  await probe.connect(d.endpoint);
  const endpoints = await probe.getEndpoints();
  await probe.disconnect();
  const { endpoint, security } = chooseEndpoint(endpoints, d);
  const choice = `${security.mode}/${security.policy}`;
  if ((d.security_mode === 'auto' || d.security_policy === 'auto') && chosen.get(d) !== choice) {
    chosen.set(d, choice);
    s.log.info({ security_mode: security.mode, security_policy: security.policy }, 'opcua security chosen');
  }
  if (security.mode === 'None') return security;
  if (!endpoint.serverCertificate?.length) throw new Error('the server sent no certificate with its secured endpoint');
  await s.pki.verifyServer(endpoint.serverCertificate, d.endpoint, d.trust_on_first_use, s.log);
  return security;
}

function userIdentity(device: OpcuaDevice): UserIdentityInfo {
  return device.username === undefined
    ? { type: UserTokenType.Anonymous }
    : { type: UserTokenType.UserName, userName: device.username, password: device.password ?? '' };
}

/** node-opcua's session has the raw services; its published type leaves them out. */
export type RawSession = ClientSession & ClientSessionRawSubscriptionService & ClientSessionPublishService & {
  performMessageTransaction(request: ReadRequest, callback: (err: Error | null, response?: ReadResponse) => void): void;
  performMessageTransaction(request: WriteRequest, callback: (err: Error | null, response?: WriteResponse) => void): void;
};

/** A Read limited to `timeoutMs` (session.read() takes no limit of its own), source and server timestamps. */
export function readValues(session: RawSession, nodesToRead: ReadValueIdOptions[], timeoutMs: number): Promise<DataValue[]> {
  const request = new ReadRequest({
    nodesToRead, maxAge: 0, timestampsToReturn: TimestampsToReturn.Both, requestHeader: { timeoutHint: timeoutMs },
  });
  return new Promise((resolve, reject) => {
    session.performMessageTransaction(request, (err, response) => (err || !response ? reject(err ?? new Error('no response')) : resolve(response.results ?? [])));
  });
}

/**
 * A Write of one node's Value attribute limited to `timeoutMs`; resolves with the server's status
 * for that node. Value only, no timestamps: many PLCs refuse a write that carries them.
 */
export function writeValue(session: RawSession, nodeId: NodeId, value: Variant, timeoutMs: number): Promise<StatusCode> {
  const request = new WriteRequest({
    nodesToWrite: [{ nodeId, attributeId: AttributeIds.Value, value: { value } }], requestHeader: { timeoutHint: timeoutMs },
  });
  return new Promise((resolve, reject) => {
    session.performMessageTransaction(request, (err, response) => {
      const status = response?.results?.[0];
      if (err || !status) reject(err ?? new Error('the server answered the Write without a result'));
      else resolve(status);
    });
  });
}

/** True when the server answered (a service fault), as opposed to a lost or silent link. */
export function answered(err: unknown): boolean {
  return (err as { response?: unknown } | undefined)?.response !== undefined;
}

/** CreateSession + ActivateSession on a connected client, with errors an operator can act on. */
export async function openSession(client: OPCUAClient, device: OpcuaDevice): Promise<RawSession> {
  try {
    return (await client.createSession(userIdentity(device))) as RawSession;
  } catch (err) {
    throw new Error(explainSessionError(err, device));
  }
}

/** ActivateSession of an existing session on a new channel (OPC UA Part 4, 6.7). */
export async function reactivate(client: OPCUAClient, session: ClientSession): Promise<void> {
  await client.reactivateSession(session);
}

function explainSessionError(err: unknown, device: OpcuaDevice): string {
  const status = statusName(err);
  if (status && /^Bad(UserAccessDenied|IdentityToken(Rejected|Invalid))$/.test(status)) {
    return device.username === undefined
      ? `the server refused an anonymous session (${status}): set username and password`
      : `the server refused user "${device.username}" (${status}): check username and password`;
  }
  return `session not created: ${status ?? explain(err)}`;
}

/** The OPC UA status name an error carries (a service fault's result, or named in the message). */
export function statusName(err: unknown): string | undefined {
  const response = (err as { response?: { responseHeader?: { serviceResult?: { name?: string } } } })?.response;
  const fromResponse = response?.responseHeader?.serviceResult?.name;
  if (fromResponse && fromResponse !== 'Good') return fromResponse;
  const m = /\b(Bad[A-Za-z]+)\b/.exec(errorText(err));
  return m?.[1];
}

/** An error in one line: node-opcua wraps socket errors in a paragraph of advice; keep the cause. */
export function explain(err: unknown): string {
  const message = errorText(err);
  const inner = /Err = \((.*)\)/s.exec(message);
  return (inner ? inner[1] : message).replace(/\s+/g, ' ').trim();
}

const DROP_WAIT_MS = 2000;

/**
 * Disconnects without closing sessions, ignoring a channel that is already dead. Waits at most
 * DROP_WAIT_MS: on a half-open link the goodbye is never answered, and recovery must go on.
 */
export async function dropChannel(client: OPCUAClient | undefined): Promise<void> {
  if (!client) return;
  client.removeAllListeners();
  // A dead client may emit errors while it winds down; nobody listens any more.
  client.on('close', () => {});
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.disconnect().catch(() => {}),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, DROP_WAIT_MS); }),
  ]);
  clearTimeout(timer);
}

/**
 * Runs an opening step under the connect deadline and the caller's abort signal; on either, every
 * client the step created is dropped so no socket is left behind.
 */
async function withDeadline<T>(
  s: ChannelSettings,
  signal: AbortSignal | undefined,
  step: (track: (c: OPCUAClient) => OPCUAClient) => Promise<T>,
): Promise<T> {
  const created: OPCUAClient[] = [];
  let finished = false;
  // A client the step creates after the deadline is dropped at once: the step's result is unwanted.
  const track = (c: OPCUAClient) => {
    if (finished) void dropChannel(c);
    else created.push(c);
    return c;
  };
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${s.connectTimeout / 1000}s`)), s.connectTimeout);
    onAbort = () => reject(new Error('aborted'));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  const run = step(track);
  let result: T | undefined;
  try {
    result = await Promise.race([run, stop]);
    return result;
  } catch (err) {
    run.catch(() => {});
    throw err;
  } finally {
    finished = true;
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    await Promise.all(created.filter((c) => c !== result).map((c) => dropChannel(c)));
  }
}
