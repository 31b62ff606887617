/**
 * Only what runs (README, Install): the simulators and the demo broker are devDependencies, so
 * a production install holds none of them, and the gateway's commands work without them. Judged
 * on a production tree laid out by packaging/production-tree.mjs (what the .deb carries) in a
 * temp dir, where those packages cannot be resolved: `check`, `probe`, `run` against a Modbus
 * and an OPC UA simulator (from this checkout) with every seq arriving at a real broker,
 * `status` and `audit` beside it; `demo` and `sim` refuse with exit 69, saying what to do.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startBroker, type Broker } from '../helpers/broker.js';
import { ROOT, runCli, stopAll, tempDir, writeGatewayConfig, type CliProcess } from '../helpers/gateway.js';
import { subscribe, type Subscriber } from '../helpers/subscriber.js';
import { auditFromSeq1 } from '../helpers/upstream.js';

const SIMULATOR_PACKAGES = ['aedes', 'modbus-serial', 'node-opcua-server'];

let dir: string;
let cli: string;
beforeAll(() => {
  dir = tempDir('floorgate-production-');
  const made = spawnSync(process.execPath, ['packaging/production-tree.mjs', '--repo', ROOT, '--out', path.join(dir, 'app')],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (made.status !== 0) throw new Error(`production-tree.mjs failed: ${made.stderr}`);
  cli = path.join(dir, 'app/dist/src/cli/main.js');
});
afterAll(async () => {
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
}, 20_000);

describe('the production dependencies', () => {
  it('hold no simulator package: package-lock.json marks each one dev', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
    const production = Object.entries(lock.packages as Record<string, { dev?: boolean }>)
      .filter(([where, entry]) => where !== '' && !entry.dev)
      .map(([where]) => where.replace(/^.*node_modules\//, ''));
    expect(production.length).toBeGreaterThan(100);
    expect(production.filter((name) => SIMULATOR_PACKAGES.includes(name))).toEqual([]);
    for (const name of SIMULATOR_PACKAGES) expect(lock.packages[`node_modules/${name}`]?.dev, name).toBe(true);
  });

  it('are all the production tree holds', () => {
    for (const name of SIMULATOR_PACKAGES) expect(fs.existsSync(path.join(dir, 'app/node_modules', name)), name).toBe(false);
  });
});

describe('a production install', () => {
  it.each([['demo', []], ['sim', ['modbus', '--port', '0']]])('refuses `%s` with exit 69, naming what is missing and what to do', async (command, args) => {
    const p = runCli([command, ...args], { cli });
    expect(await p.exited).toBe(69);
    expect(p.stdout.join('')).toBe('');
    const said = p.stderr.join('\n');
    expect(said).toContain('not part of a production install');
    for (const name of SIMULATOR_PACKAGES) expect(said).toContain(name);
    expect(said).toContain(`npm ci && npx floorgate ${command}`);
  }, 20_000);

  describe('runs the gateway against simulators', () => {
    let broker: Broker;
    let sub: Subscriber;
    let gateway: CliProcess;
    let config: string;
    let httpPort: number;

    beforeAll(async () => {
      broker = await startBroker();
      sub = await subscribe(broker.url, { topic: 'floorgate/#' });
      await sub.subscribed();
      const modbus = runCli(['sim', 'modbus', '--port', '0']);
      const opcua = runCli(['sim', 'opcua', '--port', '0'], { env: { TMPDIR: dir } });
      const port = async (sim: CliProcess) => Number(/:(\d+) /.exec(await sim.waitFor((l) => l.includes('listening on'), 60_000))![1]);
      const [modbusPort, opcuaPort] = await Promise.all([port(modbus), port(opcua)]);
      httpPort = await freePort();
      // An OPC UA device too, so that node-opcua-client loads from the pruned tree.
      config = writeGatewayConfig({
        dir, mqttPort: broker.port, modbusPort, httpPort, extraDevices: `  - name: oven
    driver: opcua
    endpoint: opc.tcp://127.0.0.1:${opcuaPort}
    tags:
      - { name: counter, node_id: "ns=1;s=Oven.Counter", mode: poll }
`,
      });
    }, 90_000);
    afterAll(async () => {
      await sub?.close();
      await broker?.kill();
    }, 20_000);

    it('check and probe', async () => {
      const check = runCli(['check', '-c', config], { cli });
      expect(await check.exited, check.stderr.join('\n')).toBe(0);
      const probe = runCli(['probe', '-c', config], { cli });
      expect(await probe.exited, probe.stderr.join('\n')).toBe(0);
      expect(probe.stdout.join('\n')).toMatch(/oven\s+counter/);
    }, 60_000);

    it('run, with status and audit beside it: every seq arrives', async () => {
      gateway = runCli(['run', '-c', config], { cli });
      const oven = () => sub.messages.filter((m) => m.payload.device === 'oven');
      await sub.waitFor((ms) => ms.length >= 10 && oven().length >= 2, 45_000).catch((err: Error) => {
        throw new Error(`${err.message}; the gateway's last lines:\n${gateway.stdout.slice(-5).join('\n')}`);
      });

      const status = runCli(['status', '--url', `http://127.0.0.1:${httpPort}`], { cli });
      expect(await status.exited, status.stdout.join('\n')).toBe(0);
      const audit = runCli(['audit', '--url', broker.url, '--gateway', 'test-gw', '--duration', '2s', '--json'], { cli });
      expect(await audit.exited, audit.stderr.join('\n')).toBe(0);
      expect(JSON.parse(audit.stdout.join('\n')).gateways['test-gw']).toBeDefined();

      expect(await gateway.stop('SIGTERM')).toBe(0);
      const report = auditFromSeq1(sub.messages);
      expect(report.missing).toBe(0);
      expect(report.firstSeq).toBe(1);
      expect(report.lastSeq).toBeGreaterThanOrEqual(10);
    }, 90_000);
  });
});
