/**
 * The audit's Sparkplug decoder, fed payloads encoded by Tahu (not floorgate's encoder).
 */
import { describe, expect, it } from 'vitest';
import { AuditSession } from '../../src/audit/completeness.js';
import { sparkplugDecoder, sparkplugTopics } from '../../src/audit/sparkplug.js';
import { encodeCommand } from './tahu.js';

const DBIRTH = 'spBv1.0/plant/DBIRTH/gw1/press';
const DDATA = 'spBv1.0/plant/DDATA/gw1/press';
const birth = (epoch?: string) => encodeCommand([
  { name: 'temp', alias: 1, type: 'Float', value: 1 },
  { name: 'floorgate/seq', alias: 2, type: 'UInt64', value: 0 },
  ...(epoch === undefined ? [] : [{ name: 'floorgate/epoch', alias: 3, type: 'String', value: epoch }]),
]);
const data = (seq: number, historical = false) => encodeCommand([
  { alias: 1, type: 'Float', value: 2, timestamp: 1000 + seq, isHistorical: historical } as never,
  { alias: 2, type: 'UInt64', value: seq, timestamp: 1000 + seq, isHistorical: historical } as never,
]);

describe('sparkplugDecoder', () => {
  it('reads seq, the historical flag and the reading timestamps of a DDATA once the DBIRTH named the alias', () => {
    const decode = sparkplugDecoder();
    expect(decode(DDATA, data(5))).toMatchObject({ kind: 'invalid', gateway: 'gw1', reason: expect.stringContaining('before its DBIRTH') });
    expect(decode(DBIRTH, birth())).toEqual({ kind: 'ignored' });
    expect(decode(DDATA, data(5, true))).toEqual({ kind: 'data', observation: { gateway: 'gw1', seq: 5, epoch: null, historical: true, readingTs: [1005] } });
    expect(decode(DDATA, data(6))).toMatchObject({ kind: 'data', observation: { seq: 6, historical: false } });
    // A write's echo carries no floorgate/seq: not data.
    expect(decode(DDATA, encodeCommand([{ alias: 1, type: 'Float', value: 3 }]))).toEqual({ kind: 'ignored' });
    expect(decode(DDATA, Buffer.from('not protobuf \xff\xff'))).toMatchObject({ kind: 'invalid' });
    expect(decode('spBv1.0/plant/NBIRTH/gw1', birth())).toEqual({ kind: 'ignored' });
    expect(decode('spBv1.0/STATE/scada', Buffer.from('{"online":true}'))).toEqual({ kind: 'ignored' });
  });

  it('reads the clock flag from the reading metrics\' clock property (reference §4.12), none when they carry none', () => {
    const decode = sparkplugDecoder();
    decode(DBIRTH, birth());
    const flagged = encodeCommand([
      { alias: 1, type: 'Float', value: 2, timestamp: 1007, properties: { clock: { type: 'String', value: 'corrected' } } } as never,
      { alias: 2, type: 'UInt64', value: 7, timestamp: 1007 } as never,
    ]);
    expect(decode(DDATA, flagged)).toMatchObject({ kind: 'data', observation: { seq: 7, clock: 'corrected', readingTs: [1007] } });
    expect(decode(DDATA, data(8))).toMatchObject({ kind: 'data', observation: { seq: 8, clock: undefined } });
  });

  it('takes the epoch of a DDATA from its device\'s last DBIRTH', () => {
    const decode = sparkplugDecoder();
    decode(DBIRTH, birth('0123456789ab'));
    expect(decode(DDATA, data(5))).toMatchObject({ kind: 'data', observation: { seq: 5, epoch: '0123456789ab', readingTs: [1005] } });
    decode(DBIRTH, birth('ba9876543210'));
    expect(decode(DDATA, data(1))).toMatchObject({ kind: 'data', observation: { seq: 1, epoch: 'ba9876543210' } });
    // Another device of the edge node, born before epochs: none.
    decode('spBv1.0/plant/DBIRTH/gw1/oven', birth());
    expect(decode('spBv1.0/plant/DDATA/gw1/oven', data(2))).toMatchObject({ kind: 'data', observation: { seq: 2, epoch: null } });
  });

  it('audits a new epoch as a new stream: seq starting over is not a duplicate', () => {
    const session = new AuditSession({ prefix: 'unused', decoder: sparkplugDecoder() });
    session.observe(DBIRTH, birth('0123456789ab'), 1);
    for (const seq of [1, 2, 3]) session.observe(DDATA, data(seq), 2);
    session.observe(DBIRTH, birth('ba9876543210'), 3);
    for (const seq of [1, 2]) session.observe(DDATA, data(seq), 4);
    const g = session.report(5).gateways.gw1;
    expect(g).toMatchObject({ epoch: 'ba9876543210', messages: 2, duplicates: 0, openGaps: 0 });
    expect(g.streams.map((s) => [s.epoch, s.messages, s.duplicates])).toEqual([['0123456789ab', 3, 0], ['ba9876543210', 2, 0]]);
  });

  it('drives an audit session: gaps by floorgate/seq per edge node', () => {
    const session = new AuditSession({ prefix: 'unused', decoder: sparkplugDecoder() });
    session.observe(DBIRTH, birth(), 1);
    for (const seq of [1, 2, 4, 4]) session.observe(DDATA, data(seq), 2);
    const r = session.report(3);
    expect(r.gateways.gw1).toMatchObject({ messages: 3, duplicates: 1, missing: 1, openGaps: 1 });
    expect(r.complete).toBe(false);
  });

  it('subscribes to everything of the edge nodes asked for', () => {
    expect(sparkplugTopics([])).toEqual(['spBv1.0/#']);
    expect(sparkplugTopics(['gw1', 'gw2'])).toEqual(['spBv1.0/+/+/gw1/#', 'spBv1.0/+/+/gw2/#']);
  });
});
