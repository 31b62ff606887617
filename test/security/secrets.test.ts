/**
 * Secrets (passwords, from the config, a password_file or the environment, and credentials in
 * the broker URL) never appear in anything floorgate prints or serves: its logs at debug level,
 * its error messages, /healthz, /metrics, the status page and its API, `floorgate status`,
 * `floorgate buffer stats`, `floorgate check --plan` and the problems `floorgate check` reports.
 * Each run's output is searched for every secret.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';
import { startBroker, type Broker } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, type CliProcess } from '../helpers/gateway.js';
import { printed, writeConfig } from './config.js';

/** Distinctive, so a hit is never a coincidence; each names where it came from. */
const SECRETS = {
  file: 'Pw-from-FILE-7c1f',
  env: 'Pw-from-ENV-93ab',
  url: 'Pw-in-URL-5d2e',
  opcua: 'Pw-OPCUA-b44a',
  wrong: 'Pw-WRONG-0e8d',
};

let dir: string;
let broker: Broker;
let plc: ModbusSim;

beforeAll(async () => {
  dir = tempDir('floorgate-secrets-');
  broker = await startBroker({ users: { gw: SECRETS.file } });
  plc = await startModbusSim();
});
afterEach(stopAll);
afterAll(async () => {
  await broker?.kill();
  await plc?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function secretFile(name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${content}\n`, { mode: 0o600 });
  return file;
}

function devices(withOpcua: boolean): string {
  const modbus = [
    '  - name: press-1',
    '    driver: modbus_tcp',
    '    host: 127.0.0.1',
    `    port: ${plc.port}`,
    '    poll_interval: 100ms',
    '    tags:',
    '      - { name: counter, area: holding, address: 2, type: uint32 }',
  ];
  const opcua = [
    '  - name: oven',
    '    driver: opcua',
    // Nothing listens there: the driver's connect errors are part of what is searched.
    '    endpoint: opc.tcp://127.0.0.1:9',
    '    username: floorgate',
    `    password: ${SECRETS.opcua}`,
    '    tags:',
    '      - { name: zone1, node_id: "ns=2;s=Oven.Zone1", mode: poll }',
  ];
  return [...modbus, ...(withOpcua ? opcua : [])].join('\n');
}

function expectNoSecret(text: string): void {
  for (const [where, secret] of Object.entries(SECRETS)) expect(text, `the ${where} secret leaked`).not.toContain(secret);
}

async function fetchAll(port: number): Promise<string> {
  const bodies = await Promise.all(['/healthz', '/metrics', '/', '/api/status', '/api/health', '/api/tags'].map(async (p) => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`);
    return `${p} ${res.status}\n${await res.text()}`;
  }));
  return bodies.join('\n');
}

async function started(proc: CliProcess): Promise<number> {
  const line = await proc.waitFor((_l, j) => j?.msg === 'floorgate started', 20_000);
  return (JSON.parse(line) as { http_port: number }).http_port;
}

/** Runs a CLI command to its end and returns everything it printed. */
async function output(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | string; text: string }> {
  const proc = runCli(args, { env });
  const code = await proc.exited;
  return { code, text: printed(proc) };
}

describe('secrets stay secret', () => {
  it('refused credentials (in the URL), debug logging, an OPC UA device that cannot connect: no secret printed or served', async () => {
    const config = writeConfig(dir, {
      url: `mqtt://gw:${SECRETS.wrong}@127.0.0.1:${broker.port}`, log: 'debug', listen: '127.0.0.1:0', devices: devices(true),
    }, 'refused.yaml');
    const proc = runCli(['run', '-c', config]);
    const port = await started(proc);
    await proc.waitFor((_l, j) => /refused the credentials/.test(String(j?.msg)));
    // The OPC UA device's failed attempt is in the log too.
    await proc.waitFor((_l, j) => j?.device === 'oven' && Number(j.level) >= 40, 15_000);
    const served = await fetchAll(port);
    expect(served).toContain('/healthz 200');
    const status = await output(['status', '-c', config]);
    expect(await proc.stop()).toBe(0);
    const text = `${printed(proc)}\n${served}\n${status.text}`;
    expect(text).toContain(`mqtt://127.0.0.1:${broker.port}`);
    expectNoSecret(text);
  }, 40_000);

  it('accepted credentials from a password_file and from the environment, debug logging: none printed or served', async () => {
    const passwordFile = secretFile('mqtt.password', SECRETS.file);
    for (const mqtt of [['username: gw', `password_file: ${passwordFile}`], ['username: gw', 'password: ${MQTT_PASSWORD}']]) {
      const config = writeConfig(dir, { url: `mqtt://127.0.0.1:${broker.port}`, mqtt, log: 'debug', listen: '127.0.0.1:0', devices: devices(false) }, 'accepted.yaml');
      // The broker knows the file's password; the environment's is the same text under another name here.
      const env = { MQTT_PASSWORD: SECRETS.file };
      const proc = runCli(['run', '-c', config], { env });
      const port = await started(proc);
      await proc.waitFor((_l, j) => String(j?.msg).startsWith('connected to'));
      const served = await fetchAll(port);
      const stats = await output(['buffer', 'stats', '-c', config], env);
      expect(stats.code).toBe(0);
      expect(await proc.stop()).toBe(0);
      expectNoSecret(`${printed(proc)}\n${served}\n${stats.text}`);
    }
  }, 40_000);

  it('check --plan on a config full of secrets prints none of them', async () => {
    const passwordFile = secretFile('plan.password', SECRETS.file);
    const config = writeConfig(dir, {
      url: `mqtt://gw:${SECRETS.url}@127.0.0.1:${broker.port}`, mqtt: ['username: gw', `password_file: ${passwordFile}`],
      devices: devices(true),
    }, 'plan.yaml');
    const plan = await output(['check', '-c', config, '--plan']);
    expect(plan.code).toBe(0);
    expect(plan.text).toMatch(/press-1 \(modbus_tcp\):/);
    expect(plan.text).toMatch(/oven \(opcua\):/);
    expectNoSecret(plan.text);
  });

  it('config problems next to secrets quote none of them', async () => {
    const cases: { mqtt: string[]; url?: string; expect: RegExp }[] = [
      // An unparseable URL with credentials in it.
      { url: `mqtt://gw:${SECRETS.url}@127.0.0.1:99999`, mqtt: [], expect: /mqtt\.url: invalid URL "mqtt:\/\/\[redacted\]@127\.0\.0\.1:99999"/ },
      { mqtt: [`password: [${SECRETS.env}]`, 'username: gw'], expect: /mqtt\.password: expected a string, got a list/ },
      { mqtt: [`password: ${SECRETS.env}`], expect: /mqtt\.password: a password needs a username/ },
      { mqtt: ['username: gw', `password: ${SECRETS.env}`, `password_file: ${secretFile('both.password', SECRETS.file)}`], expect: /use either password or password_file/ },
    ];
    for (const c of cases) {
      const config = writeConfig(dir, { url: c.url ?? `mqtt://127.0.0.1:${broker.port}`, mqtt: c.mqtt }, 'problem.yaml');
      for (const cmd of [['check', '-c', config], ['run', '-c', config]]) {
        const r = await output(cmd);
        expect(r.code).toBe(78);
        expect(r.text).toMatch(c.expect);
        expectNoSecret(r.text);
      }
    }
  }, 40_000);
});
