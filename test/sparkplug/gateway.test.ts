/**
 * The real daemon (`floorgate run`, compiled) in Sparkplug B against the Modbus simulator and a
 * broker: bdSeq across kill -9 and restart, NDEATH on SIGTERM, `floorgate audit --format
 * sparkplug_b` over it all, and a DCMD write that lands in the PLC.
 */
import fs from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import modbusSerial from 'modbus-serial';
import { afterEach, describe, expect, it } from 'vitest';
import { startModbusSim, type ModbusSim } from '../../drivers/modbus/sim.js';
import { startBroker, type Broker } from '../helpers/broker.js';
import { runCli, stopAll, tempDir, writeGatewayConfig, type CliProcess } from '../helpers/gateway.js';
import { until } from '../forward/setup.js';
import { subscribe, type Subscriber } from '../helpers/subscriber.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { encodeCommand, decode, valueOf, type RawPayload } from './tahu.js';

const GROUP = 'plant';
const EDGE = 'gw-e2e';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  await stopAll();
  for (const c of cleanup.splice(0).reverse()) await c();
});

/**
 * The gateway reaches the broker through a fault proxy: held in reset while the broker restarts
 * until the test's subscribers are back (a broker without persistence forgets them), so they
 * miss nothing the gateway publishes.
 */
async function setup(): Promise<{ broker: Broker; proxy: TcpProxy; sim: ModbusSim; sub: Subscriber; dir: string; file: string }> {
  const dir = tempDir('floorgate-sparkplug-');
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const broker = await startBroker();
  cleanup.push(() => broker.stop());
  const proxy = await startProxy({ port: broker.port });
  cleanup.push(() => proxy.close());
  const sim = await startModbusSim();
  cleanup.push(() => sim.close());
  const sub = await subscribe(broker.url, { topic: `spBv1.0/${GROUP}/#` });
  cleanup.push(() => sub.close());
  const file = writeGatewayConfig({
    dir, mqttPort: proxy.port, modbusPort: sim.port, pollInterval: '200ms',
    mqtt: { format: 'sparkplug_b', sparkplug: `{ group_id: ${GROUP}, edge_node_id: ${EDGE} }` },
    extraTags: ['{ name: setpoint, area: holding, address: 26, type: float32, writable: true }'],
  });
  return { broker, proxy, sim, sub, dir, file };
}

interface Msg { type: string; device?: string; payload: RawPayload }

/** Sparkplug's seq rule over the edge node's messages: NBIRTH 0, then +1 mod 256 (NDEATH has none). */
function seqRuleHolds(ms: readonly Msg[]): boolean {
  let prev = -1;
  for (const m of ms) {
    if (m.type === 'NDEATH') continue;
    const seq = Number(m.payload.seq);
    if (m.type === 'NBIRTH' ? seq !== 0 : prev < 0 || seq !== ((prev + 1) & 0xff)) return false;
    prev = seq;
  }
  return true;
}

function decoded(sub: Subscriber): Msg[] {
  return sub.messages.map((m) => {
    const [, , type, , device] = m.topic.split('/');
    return { type, device, payload: decode(m.raw) };
  }).filter((m) => m.type !== 'DCMD' && m.type !== 'NCMD');
}

const count = (sub: Subscriber, type: string) => decoded(sub).filter((m) => m.type === type).length;
const bdSeqs = (sub: Subscriber, type: string) =>
  decoded(sub).filter((m) => m.type === type).map((m) => Number(m.payload.metrics.find((x) => x.name === 'bdSeq')!.longValue));

describe('floorgate run, Sparkplug B', () => {
  it('bdSeq and seq through a broker restart, kill -9 and a restart, SIGTERM; the audit sees no gap', async () => {
    const { broker, proxy, sub, dir, file } = await setup();
    const audit = runCli(['audit', '--url', broker.url, '--format', 'sparkplug_b', '--gateway', EDGE, '--json', '--client-id', `audit-${process.pid}`]);
    const auditSays = (text: string) => until(() => audit.stderr.some((l) => l.includes(text)), 10_000, `the audit to say "${text}"`);
    await auditSays('subscribed to');

    let gw: CliProcess = runCli(['run', '-c', file]);
    await sub.waitFor(() => count(sub, 'DDATA') >= 5, 15_000);
    const [first] = bdSeqs(sub, 'NBIRTH');

    // Broker restart: the gateway keeps buffering, reconnects with a new bdSeq and births again.
    // Its connection is cut first, so the broker still sends the will: the first session's bdSeq.
    proxy.reset();
    await sub.waitFor(() => count(sub, 'NDEATH') === 1, 10_000);
    expect(bdSeqs(sub, 'NDEATH')).toEqual([first]);
    await broker.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    await broker.start();
    await sub.subscribed();
    // The broker forgot the audit's session (no persistence): it subscribes again before the gateway is back.
    await auditSays('reconnected, but the broker lost our session');
    proxy.pass();
    await sub.waitFor(() => count(sub, 'NBIRTH') === 2, 10_000);
    const second = bdSeqs(sub, 'NBIRTH')[1];
    expect(second).not.toBe(first);
    await sub.waitFor(() => {
      const ms = decoded(sub);
      const birth = ms.map((m) => m.type).lastIndexOf('NBIRTH');
      return ms.slice(birth).some((m) => m.type === 'DDATA' && !m.payload.metrics[0].isHistorical);
    }, 10_000);

    // kill -9: the broker sends the will, which names this session's bdSeq.
    process.kill(gw.pid, 'SIGKILL');
    await gw.exited;
    await sub.waitFor(() => count(sub, 'NDEATH') === 2, 10_000);
    expect(bdSeqs(sub, 'NDEATH')).toEqual([first, second]);

    const before = count(sub, 'DDATA');
    gw = runCli(['run', '-c', file]);
    await sub.waitFor(() => count(sub, 'NBIRTH') === 3 && count(sub, 'DDATA') >= before + 5, 15_000);
    const third = bdSeqs(sub, 'NBIRTH')[2];
    expect(third).toBe((second + 1) % 256);
    expect(Number(fs.readFileSync(path.join(dir, 'data', 'sparkplug-bdseq'), 'utf8'))).toBe(third);

    expect(await gw.stop('SIGTERM')).toBe(0);
    await sub.waitFor(() => count(sub, 'NDEATH') === 3, 5_000);
    expect(bdSeqs(sub, 'NDEATH')).toEqual([first, second, third]);

    const ms = decoded(sub);
    expect(seqRuleHolds(ms)).toBe(true);
    expect(ms.findIndex((m) => m.type === 'DDATA')).toBeGreaterThan(ms.findIndex((m) => m.type === 'DBIRTH'));
    await audit.stop('SIGINT');
    const report = JSON.parse(audit.stdout.filter((l) => l.startsWith('{')).at(-1)!);
    expect(report.error).toBeNull();
    expect(report.gateways[EDGE].messages).toBeGreaterThanOrEqual(count(sub, 'DDATA') - report.gateways[EDGE].duplicates);
    expect(report.gateways[EDGE].missing).toBe(0);
    expect(report.complete).toBe(true);
    expect(report).toMatchObject({ disconnects: 1, sessionsLost: 1 });
    // One stream: the gateway's data dir, and so its epoch, survived kill -9 and the restarts.
    expect(report.gateways[EDGE].epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(report.gateways[EDGE].streams).toHaveLength(1);
    expect(report.unparseable).toBe(0);
  });

  it('a DCMD writes the setpoint into the PLC: echoed in DDATA, read back from the PLC, then polled back', async () => {
    const { broker, sim, sub, file } = await setup();
    runCli(['run', '-c', file]);
    // Polled data means the PLC is connected (a write to a device not connected is refused).
    await sub.waitFor(() => count(sub, 'DDATA') >= 1, 15_000);
    const birth = decoded(sub).find((m) => m.type === 'DBIRTH')!.payload;
    const setpoint = birth.metrics.find((m) => m.name === 'setpoint')!;
    expect(setpoint).toMatchObject({ datatype: 9 });

    const scada = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    cleanup.push(() => scada.endAsync(true));
    const before = sub.messages.length;
    await scada.publishAsync(`spBv1.0/${GROUP}/DCMD/${EDGE}/press-1`, encodeCommand([{ alias: Number(setpoint.alias), type: 'Float', value: 33.25 }]), { qos: 1 });
    const carries = (p: RawPayload, v: number) => p.metrics.some((m) => m.alias === setpoint.alias && valueOf(m, 9) === v);
    await sub.waitFor((ms) => ms.slice(before).some((m) => m.topic.includes('/DDATA/') && carries(decode(m.raw), 33.25)), 10_000);

    const plc = new modbusSerial.default();
    await plc.connectTCP('127.0.0.1', { port: sim.port });
    plc.setID(1);
    cleanup.push(() => new Promise<void>((resolve) => plc.close(() => resolve())));
    const regs = (await plc.readHoldingRegisters(26, 2)).data;
    const b = Buffer.alloc(4);
    b.writeUInt16BE(regs[0], 0);
    b.writeUInt16BE(regs[1], 2);
    expect(b.readFloatBE(0)).toBe(33.25);
    // The echo first, then the polls publish it from the PLC (with a floorgate/seq).
    const seqAlias = birth.metrics.find((m) => m.name === 'floorgate/seq')!.alias;
    await sub.waitFor((ms) => ms.slice(before).some((m) => {
      const p = m.topic.includes('/DDATA/') ? decode(m.raw) : null;
      return p !== null && carries(p, 33.25) && p.metrics.some((x) => x.alias === seqAlias);
    }), 10_000);
  });
});
