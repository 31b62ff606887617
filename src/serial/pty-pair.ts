/**
 * A virtual null-modem cable: two pseudo-terminals joined by socat, each reachable through a
 * symlink. Serial tests and the demo run a driver on one end and a simulated instrument on the
 * other. Killing the pair makes both ends vanish the way an unplugged USB adapter does.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface PtyPair {
  /** Symlink to the end the gateway opens. */
  readonly dev: string;
  /** Symlink to the end the instrument (simulator) opens. */
  readonly peer: string;
  readonly pid: number;
  /** Ends socat (SIGTERM, then SIGKILL after 2 s); both links are gone when it resolves. */
  close(): Promise<void>;
}

const READY = 'starting data transfer loop';

/** Starts `socat pty,link=dev pty,link=peer`; rejects when socat is missing or not ready within timeoutMs. */
export function startPtyPair(dev: string, peer: string, timeoutMs = 5000): Promise<PtyPair> {
  return new Promise((resolve, reject) => {
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${dev}`, `pty,raw,echo=0,link=${peer}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let ready = false;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const close = async (): Promise<void> => {
      // No pid: socat never started (not installed), so there is nothing to wait for.
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
      // socat removes its links on a clean exit; after SIGKILL they would dangle.
      for (const link of [dev, peer]) fs.rmSync(link, { force: true });
    };
    let failed = false;
    const fail = (why: string) => {
      if (failed) return;
      failed = true;
      clearTimeout(timer);
      void close().then(() => reject(new Error(`cannot start socat for ${dev} <-> ${peer}: ${why}`)));
    };
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms: ${stderr.trim()}`), timeoutMs);
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => {
      if (!ready) fail(`exited (${signal ?? code}): ${stderr.trim()}`);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      if (ready) return;
      // Keep only what an error message needs; socat is chatty at -d -d.
      stderr = (stderr + text).slice(-2000);
      if (!stderr.includes(READY)) return;
      ready = true;
      clearTimeout(timer);
      resolve({ dev, peer, pid: child.pid!, close });
    });
  });
}
