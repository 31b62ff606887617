/**
 * The Sparkplug session against a real broker: births, DDATA by alias with the right
 * datatypes, the seq and bdSeq rules through disconnects, rebirth, device death and birth,
 * historical data after an outage, and the primary host's STATE. Every message is decoded with
 * Tahu's generated code (tahu.ts), not floorgate's.
 */
import fs from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCompact } from '../../src/message/compact.js';
import { Rig, until } from '../forward/setup.js';
import { propertiesOf, valueOf, encodeCommand } from './tahu.js';
import {
  EDGE, NS, append, bufferSeq, checkSeqRule, device, messages, modbusTag, named, ofType, opcuaTag, sparkplugRig, type MutableView,
} from './rig.js';

const rig = new Rig();
afterEach(async () => { await rig.close(); });

// Recent enough for the buffer (max_age 7 d), old enough to tell from the publish time.
const T0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;

/** A host application's client, for NCMD, DCMD and STATE. */
async function host(url: string): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  rig.add(client, (c) => c.endAsync(true));
  return client;
}

function pressView(): MutableView {
  const config = device('press', [
    modbusTag('temp', 'float32'),
    modbusTag('count', 'uint32'),
    modbusTag('level', 'int16', { scale: 0.1 }),
    modbusTag('big', 'uint64'),
    modbusTag('signed', 'int64'),
    modbusTag('flag', 'bool'),
    modbusTag('recipe', 'string', { length: 4 }),
    modbusTag('raw', 'int16'),
    modbusTag('setpoint', 'float32', { writable: true }),
  ]);
  return {
    config, up: true, error: null,
    last: [
      { tag: 'temp', value: 21.5, quality: 'good', ts: T0 },
      { tag: 'count', value: 4_000_000_000, quality: 'good', ts: T0 },
      { tag: 'level', value: 101.3, quality: 'good', ts: T0 },
      { tag: 'big', value: 2n ** 64n - 1n, quality: 'good', ts: T0 },
      { tag: 'signed', value: -5, quality: 'good', ts: T0 },
      { tag: 'flag', value: true, quality: 'good', ts: T0 },
      { tag: 'recipe', value: null, quality: 'bad', ts: T0, error: 'exception 2: illegal data address' },
      { tag: 'raw', value: -300, quality: 'uncertain', ts: T0, error: 'sensor out of calibration' },
    ],
  };
}

describe('Sparkplug session', () => {
  it('births every device with names, aliases, datatypes and current values, then DDATA by alias', async () => {
    const press = pressView();
    const oven: MutableView = {
      config: device('oven', [opcuaTag('zone'), opcuaTag('name'), opcuaTag('later')], 'opcua'),
      up: true, error: null,
      last: [{ tag: 'zone', value: 180.5, quality: 'good', ts: T0 }, { tag: 'name', value: 'ABC', quality: 'good', ts: T0 }],
    };
    const down: MutableView = { config: device('down', [modbusTag('x', 'uint16')]), up: false, error: 'connect failed: ECONNREFUSED', last: [] };
    const { sub, store } = await sparkplugRig(rig, { views: [press, oven, down] });
    await sub.waitFor(() => ofType(messages(sub), 'DDEATH').length === 1, 5_000);

    let ms = messages(sub);
    expect(ms.map((m) => `${m.type} ${m.device ?? ''}`.trim())).toEqual(['NBIRTH', 'DBIRTH press', 'DBIRTH oven', 'DBIRTH down', 'DDEATH down']);
    const nbirth = ms[0];
    expect(nbirth.received.retain).toBe(false);
    expect(nbirth.payload.seq).toBe('0');
    expect(named(nbirth.payload, 'bdSeq')).toMatchObject({ datatype: 4, longValue: '0' });
    const rebirth = named(nbirth.payload, 'Node Control/Rebirth');
    expect(rebirth).toMatchObject({ datatype: 11, booleanValue: false });
    expect(rebirth.alias).toBeUndefined();
    // The buffer's stream id, in NBIRTH and every DBIRTH, never in DDATA (checked below).
    expect(store.epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(named(nbirth.payload, 'floorgate/epoch')).toMatchObject({ datatype: 12, stringValue: store.epoch });
    for (const b of ofType(ms, 'DBIRTH')) expect(named(b.payload, 'floorgate/epoch')).toMatchObject({ datatype: 12, stringValue: store.epoch });

    const dbirth = ms[1].payload;
    const dt = (name: string) => named(dbirth, name).datatype;
    expect(['temp', 'count', 'level', 'big', 'signed', 'flag', 'recipe', 'raw', 'setpoint', 'floorgate/seq'].map(dt))
      .toEqual([9, 7, 10, 8, 4, 11, 12, 2, 9, 8]);
    const value = (name: string) => valueOf(named(dbirth, name), named(dbirth, name).datatype!);
    expect(['temp', 'count', 'level', 'big', 'signed', 'flag', 'raw'].map(value)).toEqual([21.5, 4_000_000_000, 101.3, 2n ** 64n - 1n, -5n, true, -300]);
    expect(named(dbirth, 'temp').timestamp).toBe(String(T0));
    expect(named(dbirth, 'recipe').isNull).toBe(true);
    expect(propertiesOf(named(dbirth, 'recipe'))).toEqual({ Quality: 0, error: 'exception 2: illegal data address' });
    expect(propertiesOf(named(dbirth, 'raw'))).toEqual({ Quality: 500, error: 'sensor out of calibration' });
    expect(propertiesOf(named(dbirth, 'setpoint'))).toEqual({ Quality: 0, error: 'not read yet' });
    expect(named(dbirth, 'floorgate/seq').isNull).toBe(true);

    const ovenBirth = ms[2].payload;
    expect(named(ovenBirth, 'zone')).toMatchObject({ datatype: 10, doubleValue: 180.5 });
    expect(named(ovenBirth, 'name')).toMatchObject({ datatype: 12, stringValue: 'ABC' });
    expect(named(ovenBirth, 'later')).toMatchObject({ datatype: 10, isNull: true });

    const aliases = ms.filter((m) => m.type === 'DBIRTH').flatMap((m) => m.payload.metrics.map((x) => x.alias));
    expect(aliases.every((a) => a !== undefined)).toBe(true);
    expect(new Set(aliases).size).toBe(aliases.length);

    append(store, 'press', [
      { tag: 'temp', value: 22.25, quality: 'good', ts: T0 + 1000 },
      { tag: 'level', value: 99.9, quality: 'good', ts: T0 + 1000 },
      { tag: 'big', value: 2n ** 63n, quality: 'good', ts: T0 + 1000 },
      { tag: 'recipe', value: 'AB', quality: 'good', ts: T0 + 1001 },
      { tag: 'flag', value: null, quality: 'bad', ts: T0 + 1002, error: 'timeout after 500 ms' },
    ]);
    ms = await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 1, 5_000).then(() => messages(sub));
    const ddata = ofType(ms, 'DDATA')[0];
    expect(ddata.topic).toBe(`${NS}/DDATA/${EDGE}/press`);
    const byAlias = new Map(dbirth.metrics.map((m) => [m.alias, m]));
    const got = ddata.payload.metrics.map((m) => {
      expect(m.name).toBeUndefined();
      expect(m.datatype).toBeUndefined();
      expect(m.isHistorical).toBeUndefined();
      const born = byAlias.get(m.alias)!;
      return [born.name, valueOf(m, born.datatype!), Number(m.timestamp)];
    });
    expect(got).toEqual([
      ['temp', 22.25, T0 + 1000], ['level', 99.9, T0 + 1000], ['big', 2n ** 63n, T0 + 1000], ['recipe', 'AB', T0 + 1001],
      ['flag', null, T0 + 1002], ['floorgate/seq', 1n, T0 + 1000],
    ]);
    expect(propertiesOf(ddata.payload.metrics[4])).toEqual({ Quality: 0, error: 'timeout after 500 ms' });
    expect(ddata.received.retain).toBe(false);

    // A backlog committed under json_layout compact, before a switch to Sparkplug: the same DDATA.
    append(store, 'press', [
      { tag: 'temp', value: 22.5, quality: 'good', ts: T0 + 2000 },
      { tag: 'big', value: 2n ** 63n, quality: 'good', ts: T0 + 2000 },
      { tag: 'flag', value: null, quality: 'bad', ts: T0 + 2002, error: 'timeout after 500 ms' },
    ], encodeCompact);
    ms = await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 2, 5_000).then(() => messages(sub));
    const compact = ofType(ms, 'DDATA')[1].payload.metrics;
    expect(compact.map((m) => [byAlias.get(m.alias)!.name, valueOf(m, byAlias.get(m.alias)!.datatype!), Number(m.timestamp)])).toEqual([
      ['temp', 22.5, T0 + 2000], ['big', 2n ** 63n, T0 + 2000], ['flag', null, T0 + 2002], ['floorgate/seq', 2n, T0 + 2000],
    ]);
    expect(propertiesOf(compact[2])).toEqual({ Quality: 0, error: 'timeout after 500 ms' });
    checkSeqRule(ms);
  });

  it('seq runs 0–255 and wraps across births and data; floorgate/seq numbers every message', async () => {
    const press = pressView();
    const { sub, store } = await sparkplugRig(rig, { views: [press] });
    await sub.waitFor(() => ofType(messages(sub), 'DBIRTH').length === 1, 5_000);
    for (let i = 0; i < 300; i++) append(store, 'press', [{ tag: 'temp', value: i, quality: 'good', ts: T0 + i }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 300, 15_000);
    const ms = messages(sub);
    checkSeqRule(ms);
    const seqs = ofType(ms, 'DDATA').map((m) => Number(m.payload.seq));
    expect(seqs).toContain(255);
    expect(seqs.filter((s) => s === 0)).toHaveLength(1);
    const birth = ofType(ms, 'DBIRTH')[0].payload;
    expect(ofType(ms, 'DDATA').map((m) => bufferSeq(birth, m.payload))).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('after an outage: NDEATH (will) with the NBIRTH\'s bdSeq, a new bdSeq, births, then the backlog as history in order', async () => {
    const press = pressView();
    const dataDir = rig.tempDir();
    const { sub, store, proxy: maybeProxy } = await sparkplugRig(rig, { views: [press], dataDir, viaProxy: true });
    const proxy = maybeProxy!;
    await sub.waitFor(() => ofType(messages(sub), 'DBIRTH').length === 1, 5_000);
    append(store, 'press', [{ tag: 'temp', value: 1, quality: 'good', ts: T0 }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 1, 5_000);
    const bd1 = Number(named(ofType(messages(sub), 'NBIRTH')[0].payload, 'bdSeq').longValue);

    proxy.reset();
    await sub.waitFor(() => ofType(messages(sub), 'NDEATH').length === 1, 5_000);
    const will = ofType(messages(sub), 'NDEATH')[0].payload;
    expect(will.seq).toBeUndefined();
    expect(will.metrics).toHaveLength(1);
    expect(named(will, 'bdSeq')).toMatchObject({ datatype: 4, longValue: String(bd1) });

    // Readings taken during the outage, with their own (older) timestamps.
    for (let i = 0; i < 20; i++) append(store, 'press', [{ tag: 'temp', value: 100 + i, quality: 'good', ts: T0 + 5000 + i }]);
    await new Promise((res) => setTimeout(res, 400));
    proxy.pass();
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').filter((m) => m.payload.metrics.some((x) => x.isHistorical && x.longValue === '21')).length === 1, 10_000);

    const ms = messages(sub);
    const second = ms.findIndex((m, i) => m.type === 'NBIRTH' && i > 0);
    expect(ms.slice(second, second + 2).map((m) => m.type)).toEqual(['NBIRTH', 'DBIRTH']);
    const bd2 = Number(named(ms[second].payload, 'bdSeq').longValue);
    expect(bd2).not.toBe(bd1);
    expect(Number(fs.readFileSync(path.join(dataDir, 'sparkplug-bdseq'), 'utf8'))).toBe(bd2);
    const birth = ms[second + 1].payload;
    const replayed = ms.slice(second + 2).filter((m) => m.type === 'DDATA');
    expect(replayed.every((m) => m.payload.metrics.every((x) => x.isHistorical === true))).toBe(true);
    // At least once: the first message comes again when its PUBACK was lost in the reset.
    const backlog = replayed.filter((m) => bufferSeq(birth, m.payload)! >= 2);
    expect(replayed.length - backlog.length).toBeLessThanOrEqual(1);
    expect(backlog).toHaveLength(20);
    for (const [i, m] of backlog.entries()) {
      expect(m.payload.metrics.every((x) => x.isHistorical === true)).toBe(true);
      expect(bufferSeq(birth, m.payload)).toBe(i + 2);
      expect(Number(m.payload.metrics[0].timestamp)).toBe(T0 + 5000 + i);
      expect(m.payload.metrics[0].doubleValue ?? m.payload.metrics[0].floatValue).toBe(100 + i);
    }
    checkSeqRule(ms.slice(second));

    // The will registered with this session's CONNECT carries its NBIRTH's bdSeq.
    proxy.reset();
    await sub.waitFor(() => ofType(messages(sub), 'NDEATH').length === 2, 5_000);
    expect(named(ofType(messages(sub), 'NDEATH')[1].payload, 'bdSeq').longValue).toBe(String(bd2));
  });

  it('NCMD Node Control/Rebirth: NBIRTH (seq 0, same bdSeq) and every DBIRTH again', async () => {
    const press = pressView();
    const { sub, store, broker } = await sparkplugRig(rig, { views: [press] });
    await sub.waitFor(() => ofType(messages(sub), 'DBIRTH').length === 1, 5_000);
    append(store, 'press', [{ tag: 'temp', value: 1, quality: 'good', ts: T0 }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 1, 5_000);
    const scada = await host(broker.url);
    await scada.publishAsync(`${NS}/NCMD/${EDGE}`, encodeCommand([{ name: 'Node Control/Rebirth', type: 'Boolean', value: false }]));
    await scada.publishAsync(`${NS}/NCMD/${EDGE}`, encodeCommand([{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }]));
    await sub.waitFor(() => ofType(messages(sub), 'NBIRTH').length === 2, 5_000);
    append(store, 'press', [{ tag: 'temp', value: 2, quality: 'good', ts: T0 }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 2, 5_000);
    const ms = messages(sub);
    expect(ms.map((m) => m.type)).toEqual(['NBIRTH', 'DBIRTH', 'DDATA', 'NBIRTH', 'DBIRTH', 'DDATA']);
    const [b1, b2] = ofType(ms, 'NBIRTH').map((m) => named(m.payload, 'bdSeq').longValue);
    expect(b2).toBe(b1);
    checkSeqRule(ms);
  });

  it('DDEATH when a device goes down, DBIRTH when it is back; a reload that changes its tags births it anew', async () => {
    const press = pressView();
    const { sub, store, format } = await sparkplugRig(rig, { views: [press] });
    await sub.waitFor(() => ofType(messages(sub), 'DBIRTH').length === 1, 5_000);
    press.up = false;
    press.error = 'connection lost: ECONNRESET';
    await sub.waitFor(() => ofType(messages(sub), 'DDEATH').length === 1, 3_000);
    press.up = true;
    press.error = null;
    press.last = [{ tag: 'temp', value: 30, quality: 'good', ts: T0 + 9 }];
    await sub.waitFor(() => ofType(messages(sub), 'DBIRTH').length === 2, 3_000);
    expect(named(ofType(messages(sub), 'DBIRTH')[1].payload, 'temp').floatValue).toBe(30);

    press.config = device('press', [modbusTag('temp', 'float32'), modbusTag('added', 'uint16')]);
    format.devicesChanged();
    append(store, 'press', [{ tag: 'added', value: 7, quality: 'good', ts: T0 }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 1, 3_000);
    const ms = messages(sub);
    expect(ms.map((m) => m.type)).toEqual(['NBIRTH', 'DBIRTH', 'DDEATH', 'DBIRTH', 'DDEATH', 'DBIRTH', 'DDATA']);
    const last = ofType(ms, 'DBIRTH')[2].payload;
    expect(last.metrics.map((m) => m.name)).toEqual(['temp', 'added', 'floorgate/seq', 'floorgate/epoch']);
    expect(ms[6].payload.metrics[0]).toMatchObject({ alias: named(last, 'added').alias, intValue: 7 });
    checkSeqRule(ms);
  });

  it('learns an OPC UA tag\'s datatype from its first value: born Double, then DDEATH and DBIRTH as String', async () => {
    const oven: MutableView = { config: device('oven', [opcuaTag('batch')], 'opcua'), up: true, error: null, last: [] };
    const { sub, store } = await sparkplugRig(rig, { views: [oven] });
    await sub.waitFor(() => ofType(messages(sub), 'DBIRTH').length === 1, 5_000);
    append(store, 'oven', [{ tag: 'batch', value: 'B-17', quality: 'good', ts: T0 }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 1, 5_000);
    const ms = messages(sub);
    expect(ms.map((m) => m.type)).toEqual(['NBIRTH', 'DBIRTH', 'DDEATH', 'DBIRTH', 'DDATA']);
    expect(named(ms[1].payload, 'batch').datatype).toBe(10);
    expect(named(ms[3].payload, 'batch').datatype).toBe(12);
    expect(ms[4].payload.metrics[0].stringValue).toBe('B-17');
  });

  it('buffered readings of a device no longer configured are dropped with a warning; the rest flows', async () => {
    const press = pressView();
    const { sub, store, capture } = await sparkplugRig(rig, { views: [press] });
    await sub.waitFor(() => ofType(messages(sub), 'DBIRTH').length === 1, 5_000);
    append(store, 'gone', [{ tag: 'x', value: 1, quality: 'good', ts: T0 }]);
    append(store, 'press', [{ tag: 'temp', value: 1, quality: 'good', ts: T0 }, { tag: 'removed', value: 1, quality: 'good', ts: T0 }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 1, 5_000);
    const ddata = ofType(messages(sub), 'DDATA')[0];
    expect(ddata.device).toBe('press');
    expect(ddata.payload.metrics).toHaveLength(2);
    await until(() => store.stats().messages === 0, 5_000, 'both messages acknowledged and deleted');
    expect(capture.text()).toContain('device gone, which is no longer configured');
    expect(capture.text()).toContain('press/removed, which is no longer configured');
  });

  it('stop(): NDEATH with the session\'s bdSeq before the clean DISCONNECT (no will after it)', async () => {
    const press = pressView();
    const { sub, fwd } = await sparkplugRig(rig, { views: [press] });
    await sub.waitFor(() => ofType(messages(sub), 'DBIRTH').length === 1, 5_000);
    const bd = named(ofType(messages(sub), 'NBIRTH')[0].payload, 'bdSeq').longValue;
    await fwd.stop();
    await sub.waitFor(() => ofType(messages(sub), 'NDEATH').length === 1, 3_000);
    await new Promise((res) => setTimeout(res, 500));
    const deaths = ofType(messages(sub), 'NDEATH');
    expect(deaths).toHaveLength(1);
    expect(named(deaths[0].payload, 'bdSeq').longValue).toBe(bd);
  });
});

describe('primary host STATE', () => {
  it('holds data while the host is offline, births and sends it as history once online, and walks away when it goes offline', async () => {
    const press = pressView();
    const r = await sparkplugRig(rig, { views: [press], start: false, mqtt: { sparkplug: { group_id: 'plant', edge_node_id: EDGE, primary_host_id: 'scada' } } });
    const { sub, store, fwd, broker } = r;
    const scada = await host(broker.url);
    const state = (online: boolean, timestamp: number, retain = true) =>
      scada.publishAsync('spBv1.0/STATE/scada', JSON.stringify({ online, timestamp }), { qos: 1, retain });
    await state(false, 1000);
    fwd.start();
    await until(() => fwd.state().connected, 5_000, 'connect');
    append(store, 'press', [{ tag: 'temp', value: 1, quality: 'good', ts: T0 }]);
    append(store, 'press', [{ tag: 'temp', value: 2, quality: 'good', ts: T0 + 1 }]);
    await new Promise((res) => setTimeout(res, 700));
    expect(messages(sub)).toEqual([]);
    expect(store.stats().messages).toBe(2);

    await state(true, 2000);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 2, 5_000);
    append(store, 'press', [{ tag: 'temp', value: 3, quality: 'good', ts: T0 + 2 }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 3, 5_000);
    let ms = messages(sub);
    expect(ms.map((m) => m.type)).toEqual(['NBIRTH', 'DBIRTH', 'DDATA', 'DDATA', 'DDATA']);
    expect(ofType(ms, 'DDATA').map((m) => m.payload.metrics[0].isHistorical ?? false)).toEqual([true, true, false]);
    const bd1 = named(ms[0].payload, 'bdSeq').longValue;

    // A stale STATE (older timestamp) changes nothing; a newer offline one: NDEATH, disconnect.
    await state(false, 1500, false);
    await new Promise((res) => setTimeout(res, 300));
    expect(ofType(messages(sub), 'NDEATH')).toHaveLength(0);
    await state(false, 3000);
    await sub.waitFor(() => ofType(messages(sub), 'NDEATH').length >= 1, 5_000);
    expect(named(ofType(messages(sub), 'NDEATH')[0].payload, 'bdSeq').longValue).toBe(bd1);
    await until(() => !fwd.state().connected, 5_000, 'the disconnect');
    await until(() => fwd.state().connected, 5_000, 'the reconnect');
    append(store, 'press', [{ tag: 'temp', value: 4, quality: 'good', ts: T0 + 3 }]);
    await new Promise((res) => setTimeout(res, 500));
    expect(ofType(messages(sub), 'NBIRTH')).toHaveLength(1);

    await state(true, 4000);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 4, 5_000);
    ms = messages(sub);
    const births = ofType(ms, 'NBIRTH');
    expect(births).toHaveLength(2);
    expect(named(births[1].payload, 'bdSeq').longValue).not.toBe(bd1);
    expect(ofType(ms, 'DDATA')[3].payload.metrics[0].isHistorical).toBe(true);
  });
});

describe('DCMD writes', () => {
  it('writes a writable tag by alias or by name and echoes the new value in DDATA; refuses the rest', async () => {
    const press = pressView();
    const { sub, broker, writes, capture, fwd } = await sparkplugRig(rig, { views: [press], start: false });
    const scada = await host(broker.url);
    const dcmd = (metrics: Parameters<typeof encodeCommand>[0], retain = false) =>
      scada.publishAsync(`${NS}/DCMD/${EDGE}/press`, encodeCommand(metrics), { qos: 1, retain });
    // Left on the broker before the edge node connects: it arrives flagged retained, and must not fire.
    await dcmd([{ name: 'setpoint', type: 'Float', value: 99 }], true);
    fwd.start();
    await sub.waitFor(() => ofType(messages(sub), 'DBIRTH').length === 1, 5_000);
    const birth = ofType(messages(sub), 'DBIRTH')[0].payload;
    const alias = (name: string) => Number(named(birth, name).alias);

    await dcmd([{ alias: alias('setpoint'), type: 'Float', value: 42.5 }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 1, 5_000);
    await dcmd([{ name: 'setpoint', type: 'Float', value: 40 }]);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 2, 5_000);
    expect(writes).toEqual([{ device: 'press', tag: 'setpoint', value: 42.5 }, { device: 'press', tag: 'setpoint', value: 40 }]);
    const echo = ofType(messages(sub), 'DDATA')[0].payload;
    expect(echo.metrics).toHaveLength(1);
    expect(echo.metrics[0]).toMatchObject({ alias: String(alias('setpoint')), floatValue: 42.5 });

    await dcmd([{ alias: alias('temp'), type: 'Float', value: 1 }]);
    await dcmd([{ alias: alias('floorgate/seq'), type: 'UInt64', value: 1 }]);
    await dcmd([{ name: 'nope', type: 'Float', value: 1 }]);
    await dcmd([{ alias: alias('setpoint'), type: 'String', value: 'hot' }]);
    await scada.publishAsync(`${NS}/DCMD/${EDGE}/press`, Buffer.alloc(5000, 1), { qos: 1 });
    await until(() => (capture.text().match(/command refused/g) ?? []).length >= 6, 3_000, 'six refusals').catch((err) => {
      throw new Error(`${err.message}: ${capture.lines().filter((l) => l.level >= 40).map((l) => l.msg).join(' | ')}`);
    });
    await new Promise((res) => setTimeout(res, 200));
    expect(writes).toHaveLength(2);
    expect(ofType(messages(sub), 'DDATA')).toHaveLength(2);
    const text = capture.text();
    expect(text).toContain('tag press/temp is not writable');
    expect(text).toContain('DCMD for press: no such metric');
    expect(text).toContain('tag setpoint is float32: expected a number');
    expect(text).toContain('retained DCMD ignored');
    expect(text).toContain('DCMD of 5000 bytes ignored');
    checkSeqRule(messages(sub));
  });
});
