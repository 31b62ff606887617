/**
 * `floorgate audit` (the CLI, as a consumer runs it) against a real gateway: the daemon
 * publishes to broker A; a test-only bridge republishes A → B, dropping one message and sending
 * another twice; the audit subscribes to B. It must report exactly that gap and that duplicate,
 * exit 1 while the gap is open, and 0 once the bridge delivers the missing message late.
 */
import fs from 'node:fs';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, writeGatewayConfig } from '../helpers/gateway.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await stopAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface AuditJson {
  complete: boolean;
  gateways: Record<string, { openGaps: number; missing: number; duplicates: number; gaps: { from: number; to: number }[]; lastSeq: number }>;
}

async function audit(url: string, duration: string): Promise<{ code: number | string; report: AuditJson }> {
  const p = runCli(['audit', '--url', url, '--gateway', 'test-gw', '--duration', duration, '--json', '--client-id', `audit-e2e-${process.pid}-${Date.now()}`]);
  const code = await p.exited;
  return { code, report: JSON.parse(p.stdout.join('\n')) as AuditJson };
}

describe('floorgate audit against a real gateway', () => {
  it('reports exactly the dropped message and the duplicate, and the recovery when it arrives late', async () => {
    const dir = tempDir();
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const [a, b] = await Promise.all([startBroker(), startBroker()]);
    cleanups.push(() => a.kill(), () => b.kill());
    const plc = runCli(['sim', 'modbus', '--port', '0']);
    const plcPort = Number(/:(\d+) /.exec(await plc.waitFor((l) => l.includes('listening on')))![1]);

    // The bridge: seq 5 is held back, seq 7 is sent twice.
    const DROP = 5;
    const DUP = 7;
    let held: { topic: string; payload: Buffer } | undefined;
    const from = await mqtt.connectAsync(a.url, { protocolVersion: 4 });
    const to = await mqtt.connectAsync(b.url, { protocolVersion: 4 });
    cleanups.push(() => from.endAsync(true), () => to.endAsync(true));
    await from.subscribeAsync('floorgate/#', { qos: 1 });
    let bridged = 0;
    from.on('message', (topic, payload) => {
      const seq = (JSON.parse(payload.toString()) as { seq?: number }).seq;
      if (seq === DROP) { held = { topic, payload }; return; }
      void to.publishAsync(topic, payload, { qos: 1 });
      if (seq === DUP) void to.publishAsync(topic, payload, { qos: 1 });
      if (seq !== undefined) bridged = Math.max(bridged, seq);
    });

    // Two audits from the start (they subscribe before the gateway publishes anything): the
    // first ends while seq 5 is still held back; the bridge then delivers it late, as a backlog
    // replay would, and the second, still running, sees the gap close.
    const first = audit(b.url, '5s');
    const second = audit(b.url, '9s');
    await new Promise((r) => setTimeout(r, 800));
    runCli(['run', '-c', writeGatewayConfig({ dir, mqttPort: a.port, modbusPort: plcPort })]);

    const one = await first;
    expect(bridged).toBeGreaterThan(DUP);
    expect(one.code).toBe(1);
    const g = one.report.gateways['test-gw'];
    expect(one.report.complete).toBe(false);
    expect(g.gaps.map(({ from: f, to: t }) => [f, t])).toEqual([[DROP, DROP]]);
    expect(g.missing).toBe(1);
    expect(g.duplicates).toBe(1);

    expect(held).toBeDefined();
    await to.publishAsync(held!.topic, held!.payload, { qos: 1 });
    const two = await second;
    expect(two.code).toBe(0);
    expect(two.report.complete).toBe(true);
    expect(two.report.gateways['test-gw']).toMatchObject({ openGaps: 0, missing: 0, duplicates: 1 });
  }, 40_000);
});
