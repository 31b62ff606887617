/**
 * mosquitto on 127.0.0.1 with persistence on, so that a restart keeps the audit's session and
 * the messages queued for it: the smoke asks the gateway, not the broker, to lose nothing.
 * (test/helpers/broker.ts runs without persistence, for tests of other things.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../helpers/broker.js';

export class PersistentBroker {
  private child: ChildProcess | null = null;
  private output = '';

  private constructor(readonly port: number, private readonly dir: string) {}

  static async start(): Promise<PersistentBroker> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-arm64-broker-'));
    const broker = new PersistentBroker(await freePort(), dir);
    fs.writeFileSync(path.join(dir, 'mosquitto.conf'), [
      `listener ${broker.port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      // As root, mosquitto would switch to user "mosquitto", who cannot write the temp dir.
      'user root',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      // A backlog drains in bursts: no per-client queue limit may drop any of it.
      'max_queued_messages 0',
      '',
    ].join('\n'));
    await broker.resume();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Starts mosquitto again on the same port and waits until it accepts connections. */
  async resume(): Promise<void> {
    if (this.child) return;
    const child = spawn('mosquitto', ['-c', path.join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (chunk: Buffer) => { this.output = (this.output + chunk.toString()).slice(-4000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      if (this.child === child) this.child = null;
    });
    try {
      await waitForPort(this.port, 5_000, () => !exited);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${this.output}`);
    }
  }

  /** SIGTERM: mosquitto writes its persistence file and exits; clients see the link drop. */
  async pause(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, 'SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    const child = this.child;
    if (child) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
