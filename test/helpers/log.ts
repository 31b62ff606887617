/** A real pino logger that writes into memory, so a test can read what was logged. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

export interface LogCapture {
  readonly log: Logger;
  /** Every line logged so far, parsed. */
  lines(): { level: number; msg: string; [k: string]: unknown }[];
  /** The raw text, to check what must never appear (passwords). */
  text(): string;
}

export function captureLog(): LogCapture {
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    log: createLogger('debug', sink),
    lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l)),
    text: () => text,
  };
}
