import fs from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
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
    destination ?? stdout(),
  );
}

function stdout(): DestinationStream {
  const boom = pino.destination({ sync: false });
  return stdoutIsJournal() ? withSyslogPriority(boom) : boom;
}

/**
 * systemd sets JOURNAL_STREAM to the device:inode of the stream it connected to the journal;
 * stdout is the journal only if it is that stream (sd-daemon(3)), not merely under systemd.
 */
function stdoutIsJournal(): boolean {
  const journal = process.env.JOURNAL_STREAM;
  if (!journal) return false;
  try {
    const st = fs.fstatSync(1);
    return journal === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** pino's level → the sd-daemon priority journald reads from a line's `<N>` prefix. */
const SYSLOG_PRIORITY: Record<number, string> = { 60: '<2>', 50: '<3>', 40: '<4>', 30: '<6>', 20: '<7>', 10: '<7>' };

/**
 * Prefixes each line with its priority, so `journalctl -p warning` sees the warnings; journald
 * strips the prefix and keeps the JSON as MESSAGE. pino tells a stream marked with
 * `pino.metadata` the level of the line it is about to write.
 */
function withSyslogPriority(boom: ReturnType<typeof pino.destination>): DestinationStream {
  const stream = {
    [Symbol.for('pino.metadata')]: true,
    lastLevel: 30,
    write: (line: string) => boom.write(SYSLOG_PRIORITY[stream.lastLevel] + line),
    flush: (cb: (err?: Error) => void) => boom.flush(cb),
    flushSync: () => boom.flushSync(),
  };
  return stream;
}
