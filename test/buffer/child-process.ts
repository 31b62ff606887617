/**
 * Runs test/buffer/child.ts in a real node process. The buffer's sources are transpiled into a
 * temp dir on the fly (typescript's transpileModule), so the child runs exactly the code under
 * test without a build of the whole project. Every child is killed by pid in killChildren().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { tempDir } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let compiled: string | undefined;

/** The child's entry point, compiled once per test file. */
function childScript(): string {
  if (compiled) return compiled;
  const out = tempDir();
  const sources = [
    ...fs.readdirSync(path.join(ROOT, 'src/buffer')).filter((f) => f.endsWith('.ts')).map((f) => `src/buffer/${f}`),
    'src/log.ts',
    // The clock's flags and the boot id the buffer stamps on every message; the time a damaged
    // file is moved aside under.
    'src/clock/flag.ts',
    'src/clock/boot-id.ts',
    'src/clock/monotonic.ts',
    'src/clock/iso-time.ts',
    'test/buffer/child.ts',
  ];
  for (const rel of sources) {
    const { outputText } = ts.transpileModule(fs.readFileSync(path.join(ROOT, rel), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    fs.mkdirSync(path.join(out, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(out, rel.replace(/\.ts$/, '.js')), outputText);
  }
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
  compiled = path.join(out, 'test/buffer/child.js');
  return compiled;
}

export interface Child {
  readonly pid: number;
  /** Parsed stdout lines so far. */
  readonly out: Record<string, unknown>[];
  /** Parsed stderr (log) lines so far. */
  readonly logs: { level: number; msg: string; [key: string]: unknown }[];
  send(cmd: object): void;
  /** Resolves with the first stdout line from now on that matches. */
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a command and resolves with the next state line. */
  request(cmd: object): Promise<Record<string, unknown>>;
  readonly exited: Promise<number | string>;
}

const children = new Set<ChildProcess>();

/** Starts the child; `prefix` runs it under a wrapper (e.g. prlimit), `env` adds to this process's. */
export function startChild(file: string, config: object, prefix: string[] = [], env: NodeJS.ProcessEnv = {}): Child {
  const argv = [...prefix, process.execPath, childScript(), file, JSON.stringify(config)];
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(proc);
  const out: Record<string, unknown>[] = [];
  const logs: Child['logs'] = [];
  const waiters = new Set<() => void>();
  const lines = (stream: NodeJS.ReadableStream, into: object[]) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) if (line) into.push(JSON.parse(line));
      for (const w of waiters) w();
    });
  };
  lines(proc.stdout!, out);
  lines(proc.stderr!, logs);
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      resolve(code ?? signal ?? 'unknown');
      for (const w of waiters) w();
    });
  });
  const waitFor: Child['waitFor'] = (pred, timeoutMs = 10_000) => {
    const from = out.length;
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = out.slice(from).find(pred);
        if (hit) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        } else if (proc.exitCode !== null || proc.signalCode !== null) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`child exited (${proc.exitCode ?? proc.signalCode}); logs: ${JSON.stringify(logs.slice(-5))}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out; last lines: ${JSON.stringify(out.slice(-3))}; logs: ${JSON.stringify(logs.slice(-5))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  };
  const send = (cmd: object) => proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
  return {
    pid: proc.pid!,
    out,
    logs,
    send,
    waitFor,
    request: (cmd) => {
      const answer = waitFor((l) => 'state' in l);
      send(cmd);
      return answer.then((l) => l.state as Record<string, unknown>);
    },
    exited,
  };
}

export function killChildren(): void {
  for (const proc of children) if (proc.pid) process.kill(proc.pid, 'SIGKILL');
}
