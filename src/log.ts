import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/types.js';

export type { Logger };

/**
 * JSON lines to stdout (journald keeps them). Secrets never reach a log line: the config
 * carries them only in these keys, and pino censors them wherever they appear.
 */
export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['password', '*.password', '*.*.password', 'key', '*.key', '*.*.key'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
