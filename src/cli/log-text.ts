/**
 * For `floorgate demo`: the gateway's JSON log lines as one line of text each
 * (`floorgate: warning: …`), because a newcomer's terminal is not a log collector. `run` keeps
 * JSON for journald and collectors.
 */
import { Writable } from 'node:stream';

const LEVEL_WORDS: Readonly<Record<number, string>> = { 40: 'warning', 50: 'error', 60: 'fatal' };

export function logAsText(err: NodeJS.WritableStream): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line) err.write(textOf(line) + '\n');
      }
      done();
    },
  });
}

function textOf(line: string): string {
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; device?: string };
    const level = LEVEL_WORDS[entry.level ?? 0] ?? 'note';
    return `floorgate: ${level}: ${entry.device ? `${entry.device}: ` : ''}${entry.msg ?? line}`;
  } catch {
    return line;
  }
}
