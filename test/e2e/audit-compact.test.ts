/**
 * `mqtt.json_layout: compact` from the real daemon through a real broker: what a consumer
 * receives is judged by a decoder written here from reference §3, and `floorgate audit` (the
 * CLI) must count the same messages and readings from the same broker.
 */
import fs from 'node:fs';
import mqtt from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { startModbusSim } from '../../drivers/modbus/sim.js';
import { startBroker } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, writeGatewayConfig } from '../helpers/gateway.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  await stopAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Compact {
  seq: number;
  gateway: string;
  device: string;
  groups?: { ts: number; values: Record<string, unknown> }[];
  readings?: { tag: string; value: unknown; quality: string; ts: number; error?: string }[];
}

it('a compact gateway: groups of good values, the bad tag spelled out, and the audit counts every message and reading', async () => {
  const dir = tempDir();
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const broker = await startBroker();
  cleanups.push(() => broker.kill());
  // Holding 40 refuses every read: the tag `broken` is bad from the first poll.
  const plc = await startModbusSim();
  cleanups.push(() => plc.close());
  plc.setFault({ illegal: { holding: [40] } });

  const received: Compact[] = [];
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  cleanups.push(() => sub.endAsync(true));
  sub.on('message', (topic, payload) => {
    if (topic === 'floorgate/test-gw/press-1') received.push(JSON.parse(payload.toString()) as Compact);
  });
  await sub.subscribeAsync('floorgate/test-gw/+', { qos: 1 });

  const audit = runCli(['audit', '--url', broker.url, '--gateway', 'test-gw', '--duration', '8s', '--json', '--client-id', `audit-compact-${process.pid}`]);
  for (const end = Date.now() + 10_000; !audit.stderr.some((l) => l.includes('subscribed to')); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > end) throw new Error('the audit did not subscribe within 10 s');
  }
  const gw = runCli(['run', '-c', writeGatewayConfig({
    dir, mqttPort: broker.port, modbusPort: plc.port, pollInterval: '200ms', mqtt: { json_layout: 'compact' },
    extraTags: ['{ name: broken, area: holding, address: 40, type: uint16 }'],
  })]);
  await gw.waitFor((l) => l.includes('floorgate started'));
  await new Promise((r) => setTimeout(r, 3_000));
  expect(await gw.stop('SIGTERM')).toBe(0);
  const code = await audit.exited;

  expect(received.length).toBeGreaterThan(5);
  let readings = 0;
  for (const m of received) {
    expect(m).toMatchObject({ gateway: 'test-gw', device: 'press-1' });
    for (const g of m.groups ?? []) {
      expect(typeof g.ts).toBe('number');
      expect(Object.keys(g.values).every((t) => ['temperature', 'counter', 'running'].includes(t))).toBe(true);
      readings += Object.keys(g.values).length;
    }
    for (const r of m.readings ?? []) expect(r).toMatchObject({ tag: 'broken', value: null, quality: 'bad', error: expect.any(String) });
    readings += m.readings?.length ?? 0;
  }
  // Every poll's three good tags are in groups; the bad one is published once, at its transition.
  expect(received.flatMap((m) => m.readings ?? [])).toHaveLength(1);
  expect(received.every((m) => m.groups !== undefined && m.groups.reduce((n, g) => n + Object.keys(g.values).length, 0) === 3)).toBe(true);

  const report = JSON.parse(audit.stdout.join('\n')) as { complete: boolean; unparseable: number; gateways: Record<string, { messages: number; readings: number }> };
  expect(code).toBe(0);
  expect(report).toMatchObject({ complete: true, unparseable: 0 });
  const seqs = received.map((m) => m.seq);
  expect(report.gateways['test-gw']).toMatchObject({ messages: new Set(seqs).size, readings, firstSeq: Math.min(...seqs), lastSeq: Math.max(...seqs) });
}, 40_000);
