/**
 * `floorgate run`: the daemon. SIGTERM/SIGINT stop it cleanly within 10 s; SIGHUP reloads the
 * config, keeping the running one when the new one is invalid.
 */
import path from 'node:path';
import { formatProblem } from '../config/load.js';
import type { FloorgateConfig } from '../config/types.js';
import { drivers, loadFloorgateConfig } from '../assembly.js';
import { DataDirInUse, lockDataDir, type DataDirLock } from '../data-dir-lock.js';
import { createLogger, type Logger } from '../log.js';
import { Runtime } from '../runtime.js';
import { listenerUrl } from '../http/server.js';
import { ready, startWatchdog, stopping } from '../systemd/notify.js';
import { EXIT } from './exit.js';
import { httpAddressFile, removeHttpAddress, writeHttpAddress } from './http-address.js';

const STOP_DEADLINE_MS = 10_000;

export async function runDaemon(file: string): Promise<number> {
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) {
    for (const p of loaded.problems) process.stderr.write(formatProblem(p) + '\n');
    return EXIT.config;
  }
  const log = createLogger(loaded.config.log.level);
  let runtime: Runtime;
  let lock: DataDirLock;
  try {
    lock = lockDataDir(loaded.config.gateway.data_dir);
  } catch (err) {
    // Another daemon holding the dir is an operator's situation, not a bug: no stack for it.
    const fields = err instanceof DataDirInUse ? { holder_pid: err.holder } : { err };
    log.fatal({ ...fields, data_dir: loaded.config.gateway.data_dir }, (err as Error).message);
    return exitAfterFlush(log, EXIT.failure);
  }
  try {
    runtime = await Runtime.open(loaded.config, log, drivers);
    await runtime.start();
  } catch (err) {
    log.fatal({ err }, 'floorgate could not start');
    return exitAfterFlush(log, EXIT.failure);
  }
  const addressFile = publishHttpAddress(file, loaded.config, runtime, log);
  ready();
  const stopWatchdog = startWatchdog(() => runtime.health().status !== 'failing');

  return new Promise<number>((resolve) => {
    let stoppingNow = false;
    const stop = (signal: string) => {
      if (stoppingNow) return;
      stoppingNow = true;
      log.info({ signal }, 'stopping');
      stopping();
      stopWatchdog();
      const deadline = setTimeout(() => {
        log.error('clean stop took longer than 10 s; exiting anyway (everything committed is safe)');
        resolve(exitAfterFlush(log, EXIT.failure));
      }, STOP_DEADLINE_MS);
      runtime.stop().then(
        () => { clearTimeout(deadline); removeHttpAddress(addressFile); lock.release(); resolve(exitAfterFlush(log, EXIT.ok)); },
        (err) => { clearTimeout(deadline); log.error({ err }, 'error while stopping'); resolve(exitAfterFlush(log, EXIT.failure)); },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void reload(file, runtime, log));
  });
}

/** Tells `floorgate status` where to ask (http-address.ts); returns the file to remove at a clean stop. */
function publishHttpAddress(file: string, config: FloorgateConfig, runtime: Runtime, log: Logger): string {
  const addressFile = httpAddressFile(config.gateway.data_dir);
  const listen = config.http.listen;
  try {
    if (listen && runtime.httpPort !== null) {
      writeHttpAddress(addressFile, { url: listenerUrl(listen.host, runtime.httpPort), gateway: config.gateway.id, config: path.resolve(file), pid: process.pid });
    } else {
      removeHttpAddress(addressFile);
    }
  } catch (err) {
    // Only `floorgate status` without --url misses it: no reason to stop the gateway.
    log.warn({ err, file: addressFile }, `cannot write ${addressFile}: floorgate status will need -c or --url`);
  }
  return addressFile;
}

async function reload(file: string, runtime: Runtime, log: Logger): Promise<void> {
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) {
    log.error({ problems: loaded.problems.map(formatProblem) }, 'reload refused: the new configuration is invalid; the running one is kept');
    return;
  }
  try {
    await runtime.reload(loaded.config);
  } catch (err) {
    log.error({ err }, 'reload failed');
  }
}

/** pino writes asynchronously: flush before the process goes. */
function exitAfterFlush(log: Logger, code: number): Promise<number> {
  return new Promise((resolve) => {
    log.flush(() => {
      resolve(code);
      // Sockets of a stopped client can linger a moment; nothing is left to lose.
      setTimeout(() => process.exit(code), 50).unref();
    });
  });
}
