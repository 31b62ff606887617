/**
 * `floorgate run`: the daemon. SIGTERM/SIGINT stop it cleanly within 10 s; SIGHUP reloads the
 * config, keeping the running one when the new one is invalid.
 */
import path from 'node:path';
import type { FloorgateConfig } from '../config/types.js';
import type { DataDirLock } from '../data-dir-lock.js';
import type { Logger } from '../log.js';
import type { Runtime } from '../runtime.js';
import { EXIT } from './exit.js';
import { httpAddressFile, removeHttpAddress, writeHttpAddress } from './http-address.js';
import { makeNonDumpable } from '../libc.js';

const STOP_DEADLINE_MS = 10_000;

export async function runDaemon(file: string): Promise<number> {
  // First of all: SIGHUP's default action ends the process, and one may come while floorgate
  // starts (logrotate, an operator's reload). Until it has started, a reload waits its turn.
  let reloadNow: (() => void) | null = null;
  let reloadWaiting = false;
  process.on('SIGHUP', () => (reloadNow ? reloadNow() : (reloadWaiting = true)));
  // Before the config brings its secrets into memory.
  const dumpable = makeNonDumpable();
  // Hence imported only now: the config loader and every driver take a while to load.
  const [{ formatProblem }, { refuseConfig }, { drivers, loadFloorgateConfig }, { DataDirInUse, lockDataDir }, { createLogger }, { Runtime }, { listenerUrl }, { ready, startWatchdog, stopping }] = await Promise.all([
    import('../config/load.js'), import('./config-refused.js'), import('../assembly.js'), import('../data-dir-lock.js'), import('../log.js'),
    import('../runtime.js'), import('../http/server.js'), import('../systemd/notify.js'),
  ]);

  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) return refuseConfig(loaded, (line) => process.stderr.write(line + '\n'));
  const log = createLogger(loaded.config.log.level);
  if (dumpable) log.warn(`cannot turn core dumps off (prctl PR_SET_DUMPABLE: ${dumpable}): a core dump would carry the secrets; LimitCORE=0 in the unit still prevents it`);
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
  const addressUrl = runtime.httpPort !== null && loaded.config.http.listen ? listenerUrl(loaded.config.http.listen.host, runtime.httpPort) : null;
  const addressFile = publishHttpAddress(file, loaded.config, addressUrl, log);
  ready();
  const stopWatchdog = startWatchdog(() => !runtime.failing());

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
    // One SIGHUP: the config read again and applied, counted in floorgate_config_reloads_total{result}.
    const count = (result: 'ok' | 'refused' | 'failed') => runtime.metrics.configReloads.inc({ result });
    reloadNow = () => {
      const next = loadFloorgateConfig(file);
      if (!next.ok) {
        log.error({ problems: next.problems.map(formatProblem) }, 'reload refused: the new configuration is invalid; the running one is kept');
        return count('refused');
      }
      runtime.reload(next.config).then(
        () => count('ok'),
        (err) => { log.error({ err }, 'reload failed'); count('failed'); },
      );
    };
    if (reloadWaiting) {
      log.info('SIGHUP arrived while starting: reloading now');
      reloadNow();
    }
  });
}

/** Tells `floorgate status` where to ask (http-address.ts); returns the file to remove at a clean stop. */
function publishHttpAddress(file: string, config: FloorgateConfig, url: string | null, log: Logger): string {
  const addressFile = httpAddressFile(config.gateway.data_dir);
  try {
    if (url !== null) {
      writeHttpAddress(addressFile, { url, gateway: config.gateway.id, config: path.resolve(file), pid: process.pid });
    } else {
      removeHttpAddress(addressFile);
    }
  } catch (err) {
    // Only `floorgate status` without --url misses it: no reason to stop the gateway.
    log.warn({ err, file: addressFile }, `cannot write ${addressFile}: floorgate status will need -c or --url`);
  }
  return addressFile;
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
