/**
 * A buffer in its own process, for what only a real process shows: a kill -9 and a file-size
 * limit. Compiled by compile.ts; started as `node child.js FILE CONFIG_JSON`.
 *
 * stdin, one JSON command a line:  {"op":"append","n":N,"size":S}  {"op":"flush"}
 *   {"op":"state"}  {"op":"stream"} (append without end, in bursts, until killed)
 * stdout, one JSON line each: the command's answer {state}, and {"committed": seq} after every
 * commit that added messages. Logs go to stderr as JSON lines.
 */
import readline from 'node:readline';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { createLogger } from '../../src/log.js';

const [file, configJson] = process.argv.slice(2);
const store = openBuffer({ path: file, config: JSON.parse(configJson), log: createLogger('info', process.stderr) });
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
store.onCommit((seq) => say({ committed: seq }));

let appended = 0;
/** Body i carries its append index, so the parent can tell which message holds which seq. */
function append(n: number, size: number): void {
  for (let k = 0; k < n; k++, appended++) {
    store.append({ device: 'press-1', tag: null, body: JSON.stringify({ i: appended, pad: 'x'.repeat(size) }), readings: 2, ts: Date.now() });
  }
}

const state = () => ({ state: { writable: store.writable, appended, ...store.stats() } });

function stream(): void {
  append(25, 40);
  setImmediate(stream);
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { op: string; n?: number; size?: number };
  if (cmd.op === 'append') append(cmd.n ?? 1, cmd.size ?? 40);
  if (cmd.op === 'flush') store.flush();
  if (cmd.op === 'stream') stream();
  say(state());
});
