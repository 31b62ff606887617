/**
 * The metrics an operator alerts on, read from a running daemon's /metrics (issue 20): which
 * build it is, and how old the oldest reading still waiting for the broker is — growing through
 * a broker outage, 0 once everything is delivered.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, runCli, writeGatewayConfig } from '../helpers/gateway.js';
import { brokerWithSubscriber, startPlc, workDir } from './setup.js';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The value of the one sample of `name` (with exactly these labels, when given). */
function sample(text: string, name: string, labels?: string): number | undefined {
  const prefix = labels === undefined ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

it('exports build_info, and the age of the oldest buffered reading: growing while the broker is down, 0 when empty', async () => {
  const dir = workDir();
  const { broker, sub } = await brokerWithSubscriber();
  const plc = await startPlc();
  const gw = runCli(['run', '-c', writeGatewayConfig({ dir, mqttPort: broker.port, modbusPort: plc.port, pollInterval: '200ms', httpPort: 0 })]);
  const { http_port: port } = JSON.parse(await gw.waitFor((l) => l.includes('floorgate started'))) as { http_port: number };
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const oldestTs = async () => ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { buffer: { oldest_ts: number | null } }).buffer.oldest_ts;
  await sub.waitFor((m) => m.length >= 5, 15_000);

  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const connected = await metrics();
  expect(sample(connected, 'floorgate_build_info', `version="${version}",node="${process.version}"`)).toBe(1);
  expect(connected).not.toContain('nodejs_active_handles_total');
  expect(sample(connected, 'nodejs_active_handles')).toBeGreaterThan(0);
  // Connected: a reading waits at most a commit and a PUBACK.
  expect(sample(connected, 'floorgate_buffer_oldest_age_seconds')).toBeLessThan(1);

  await broker.stop();
  await wait(2_500);
  const down1 = await metrics();
  const ts = await oldestTs();
  const age1 = sample(down1, 'floorgate_buffer_oldest_age_seconds')!;
  expect(sample(down1, 'floorgate_buffer_messages')).toBeGreaterThan(0);
  expect(age1).toBeGreaterThanOrEqual(2);
  // The same reading /healthz calls the oldest, aged at scrape time.
  expect(Math.abs(age1 - (Date.now() - ts!) / 1000)).toBeLessThan(0.5);
  await wait(1_500);
  expect(sample(await metrics(), 'floorgate_buffer_oldest_age_seconds')).toBeGreaterThanOrEqual(age1 + 1.3);

  // No new readings (the PLC is gone) and the broker back: the backlog drains to an empty buffer.
  await plc.proc.stop('SIGKILL');
  await broker.start();
  let drained = '';
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await wait(200)) {
    drained = await metrics();
    if (sample(drained, 'floorgate_buffer_messages') === 0) break;
  }
  expect(sample(drained, 'floorgate_buffer_messages')).toBe(0);
  expect(sample(drained, 'floorgate_buffer_oldest_age_seconds')).toBe(0);
  expect(await oldestTs()).toBeNull();
}, 60_000);
