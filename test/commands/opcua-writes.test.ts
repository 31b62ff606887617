/**
 * Write commands into an OPC UA server end to end: MQTT `…/set` → the runtime → the device's
 * runner → the OPC UA driver → the simulator, read back with node-opcua's own client (not
 * floorgate's driver), the `/set/result` answers checked, and the refusals: a value that does
 * not fit the node's type (refused before the server is asked) and a node the server will not
 * let anyone write (failed, with the server's status name).
 */
import fs from 'node:fs';
import { AttributeIds, OPCUAClient, type ClientSession } from 'node-opcua-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpcuaSim, type RunningOpcuaSim } from '../../drivers/opcua/sim.js';
import { startBroker, type Broker } from '../helpers/broker.js';
import { tempDir } from '../helpers/gateway.js';
import { until } from '../forward/setup.js';
import { connectScada, startGateway, type Gateway, type Scada } from './setup.js';

const BASE = 'fg/gw-ua/oven';
let broker: Broker;
let sim: RunningOpcuaSim;
let gw: Gateway;
let client: OPCUAClient;
let session: ClientSession;
let scada: Scada;
let dir: string;

beforeAll(async () => {
  dir = tempDir('floorgate-opcua-commands-');
  broker = await startBroker();
  sim = await startOpcuaSim({ pkiDir: `${dir}/sim-pki` });
  scada = await connectScada(broker.url, BASE);

  gw = await startGateway(`
gateway: { id: gw-ua, data_dir: ${dir}/data }
log: { level: debug }
mqtt: { url: "${broker.url}", topic_prefix: fg, keepalive: 2s, reconnect_min: 100ms, reconnect_max: 500ms }
buffer: { commit_interval: 20ms }
http: { listen: false }
devices:
  - name: oven
    driver: opcua
    endpoint: ${sim.endpoint}
    poll_interval: 200ms
    timeout: 2s
    tags:
      - { name: setpoint, node_id: "ns=1;s=Oven.Zone1.Setpoint", sampling_interval: 100ms, writable: true, deadband: 0 }
      - { name: fan, node_id: "ns=1;s=Oven.Fan.SpeedSetpoint", mode: poll, scale: 0.1, writable: true, deadband: 0 }
      - { name: batch, node_id: "ns=1;s=Oven.BatchId", mode: poll, writable: true, deadband: 0 }
      - { name: energy, node_id: "ns=1;s=Oven.EnergyWh", mode: poll, writable: true, deadband: 0 }
      - { name: setpoints, node_id: "ns=1;s=Oven.Setpoints", mode: poll, writable: true, deadband: 0 }
      - { name: serial, node_id: "ns=1;s=Oven.SerialNumber", mode: poll, writable: true, deadband: 0 }
      - { name: running, node_id: "ns=1;s=Oven.Running", mode: poll, deadband: 0 }
`, `${dir}/floorgate.yaml`);

  client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 0 } });
  await client.connect(sim.endpoint);
  session = await client.createSession();
  await until(() => scada.data.some((d) => d.tag === 'setpoint') && scada.data.some((d) => d.tag === 'batch'), 20_000, 'the first readings upstream');
}, 40_000);

afterAll(async () => {
  await gw?.runtime.stop();
  await session?.close().catch(() => {});
  await client?.disconnect();
  await scada?.close();
  await sim?.close();
  await broker?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The node's value as the simulator holds it, through a client of its own. */
async function onServer(id: string): Promise<unknown> {
  const dv = await session.read({ nodeId: `ns=1;s=${id}`, attributeId: AttributeIds.Value });
  const v = dv.value.value;
  return ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v;
}

describe('write commands into OPC UA (JSON)', () => {
  it('writes in the node\'s own type; the server holds the value, the result says ok, and the gateway publishes it', async () => {
    expect(await scada.command('setpoint', '{"value": 215.5, "id": "sp-1"}')).toEqual({ ok: true, value: 215.5, id: 'sp-1', ts: expect.any(Number) });
    expect(await onServer('Oven.Zone1.Setpoint')).toBe(215.5);
    // scale 0.1: the engineering value 123.4 is the raw Int16 1234 on the server.
    expect(await scada.command('fan', '123.4')).toMatchObject({ ok: true, value: 123.4 });
    expect(await onServer('Oven.Fan.SpeedSetpoint')).toBe(1234);
    expect(await scada.command('batch', '{"value": "B-2002", "id": 9}')).toMatchObject({ ok: true, value: 'B-2002', id: 9 });
    expect(await onServer('Oven.BatchId')).toBe('B-2002');
    // Beyond 2^53 the exact value travels as decimal digits, and comes back as them.
    expect(await scada.command('energy', '"-9007199254740995"')).toMatchObject({ ok: true, value: '-9007199254740995' });
    expect(await onServer('Oven.EnergyWh')).toEqual([0xffdfffff, 0xfffffffd]);
    expect(await scada.command('setpoints', '[160, 190.5]')).toMatchObject({ ok: true, value: [160, 190.5] });
    expect(await onServer('Oven.Setpoints')).toEqual([160, 190.5]);
    // Read back by the gateway itself: the subscription for setpoint, the polls for the others.
    await until(() => [['setpoint', 215.5], ['batch', 'B-2002'], ['energy', '-9007199254740995']].every(([tag, value]) => scada.data.some((d) => d.tag === tag && d.value === value))
      && scada.data.some((d) => d.tag === 'fan' && Math.abs((d.value as number) - 123.4) < 1e-9), 10_000, 'the written values upstream');
  });

  it('refuses a value that does not fit the node\'s type before asking the server, and reports the server\'s own refusal', async () => {
    const fan = await scada.command('fan', '{"value": 4000, "id": "too-fast"}');
    expect(fan).toEqual({ ok: false, error: 'value 4000 is out of range for Int16 (raw 40000, allowed -32768..32767)', id: 'too-fast', ts: expect.any(Number) });
    expect(await scada.command('setpoint', '"hot"')).toMatchObject({ ok: false, error: 'expected a number for Double, got "hot"' });
    expect(await scada.command('setpoint', '[1, 2]')).toMatchObject({ ok: false, error: 'the node holds a single Double, not an array' });
    expect(await scada.command('serial', '"OV-0000"')).toMatchObject({
      ok: false, error: 'write to serial failed: BadNotWritable (The access level does not allow writing to the Node.)',
    });
    expect(await scada.command('running', 'false')).toMatchObject({ ok: false, error: 'tag oven/running is not writable (it needs writable: true)' });
    expect(await onServer('Oven.Fan.SpeedSetpoint')).toBe(1234);
    expect(await onServer('Oven.Zone1.Setpoint')).toBe(215.5);
    expect(await onServer('Oven.SerialNumber')).toBe('OV-2291');
    expect(await onServer('Oven.Running')).toBe(true);
    const counts = gw.metrics.registry.render();
    expect(counts).toContain('floorgate_write_commands_total{result="ok"} 5\n');
    expect(counts).toContain('floorgate_write_commands_total{result="refused"} 4\n');
    expect(counts).toContain('floorgate_write_commands_total{result="failed"} 1\n');
    expect(gw.capture.text()).toContain('write failed: write to serial failed: BadNotWritable');
  });
});
