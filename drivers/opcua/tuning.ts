/**
 * node-opcua fitted to floorgate, for the driver and `floorgate browse` alike: a device's timeouts
 * (defaultTuning) and, once per process, the library's globals (adaptLibrary).
 */
import { format } from 'node:util';
import type { Logger } from 'pino';
import { ClientSecureChannelLayer, setErrorLogger, setWarningLogger } from 'node-opcua-client';
import type { OpcuaDevice } from './schema.js';
import type { SubscriptionTuning } from './subscription.js';

export interface OpcuaTuning extends SubscriptionTuning {
  /** The driver's own reconnect backoff while recovering a subscription. */
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly connectTimeout: number;
  readonly transportTimeout: number;
}

/** Defaults sized from the device: a session and socket that survive its slowest poll interval. */
export function defaultTuning(device: OpcuaDevice): OpcuaTuning {
  const slowest = Math.max(...device.tags.map((t) => t.poll_interval));
  return {
    sessionTimeout: Math.max(60_000, 3 * slowest),
    transportTimeout: Math.max(60_000, 4 * slowest),
    connectTimeout: Math.max(10_000, 10 * device.timeout),
    reconnectMinMs: 500,
    reconnectMaxMs: 30_000,
    silencePeriods: 5,
    silenceFloorMs: 5_000,
    itemRetryMs: 30_000,
  };
}

const MIN_REQUEST_TIMEOUT_MS = 100;

let libraryLog: Logger | undefined;

/**
 * Once per process, fits node-opcua's globals to floorgate: its console chatter goes to the log
 * at debug level, and request timeouts may be shorter than its 5 s floor.
 */
export function adaptLibrary(log: Logger): void {
  const first = libraryLog === undefined;
  libraryLog = log.child({ lib: 'node-opcua' });
  if (!first) return;
  // node-opcua waits at least 5 s for any answer; a Read's limit is the device's `timeout`
  // (1 s by default), the operator's to choose. Other services keep 5 s (channel.ts).
  // The library's messages are process-wide: they go to the logger of the latest device created.
  ClientSecureChannelLayer.minTransactionTimeout = MIN_REQUEST_TIMEOUT_MS;
  const print = (...args: unknown[]) => libraryLog?.debug(format(...args));
  setWarningLogger(print);
  setErrorLogger(print);
}
