import { describe, expect, it } from 'vitest';
import { AuditSession, jsonDecoder } from '../../src/audit/completeness.js';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const device = (seq: number, ts: number[], extra: object = {}) =>
  json({ seq, gateway: 'gw1', device: 'press-1', readings: ts.map((t) => ({ tag: 'temp', value: 21.5, quality: 'good', ts: t })), ...extra });

describe('jsonDecoder', () => {
  const decode = jsonDecoder('plant/fg');

  it('reads a per_device batch', () => {
    expect(decode('plant/fg/gw1/press-1', device(7, [100, 101], { historical: true }))).toEqual({
      kind: 'data', observation: { gateway: 'gw1', seq: 7, historical: true, readingTs: [100, 101] },
    });
  });

  it('reads a per_tag message', () => {
    expect(decode('plant/fg/gw1/press-1/temp', json({ seq: 8, value: null, quality: 'bad', ts: 5, error: 'timeout' }))).toEqual({
      kind: 'data', observation: { gateway: 'gw1', seq: 8, historical: false, readingTs: [5] },
    });
  });

  it('ignores status, write commands and foreign topics', () => {
    for (const topic of ['plant/fg/gw1/status', 'plant/fg/gw1/press-1/temp/set', 'plant/fg/gw1/press-1/temp/set/result', 'other/gw1/press-1', 'plant/fg/gw1', 'plant/fg//x']) {
      expect(decode(topic, json({ seq: 1, ts: 1, readings: [] }))).toEqual({ kind: 'ignored' });
    }
  });

  it('says why a data message cannot be used', () => {
    const reason = (topic: string, payload: Buffer) => {
      const d = decode(topic, payload);
      if (d.kind !== 'invalid') return d.kind;
      expect(d.gateway).toBe('gw1');
      return d.reason;
    };
    expect(reason('plant/fg/gw1/press-1', Buffer.from('{"seq":'))).toBe('payload is not JSON');
    expect(reason('plant/fg/gw1/press-1', json([1]))).toBe('payload is not a JSON object');
    expect(reason('plant/fg/gw1/press-1', json({ seq: '3', readings: [] }))).toBe('seq is not a non-negative integer');
    expect(reason('plant/fg/gw1/press-1', json({ seq: -1, readings: [] }))).toBe('seq is not a non-negative integer');
    expect(reason('plant/fg/gw1/press-1', json({ seq: 1 }))).toBe('readings is not an array');
    expect(reason('plant/fg/gw1/press-1', json({ seq: 1, readings: [{ tag: 'a' }] }))).toBe('a reading has no numeric ts');
    expect(reason('plant/fg/gw1/press-1', json({ seq: 1, gateway: 'gw2', readings: [] }))).toBe('gateway "gw2" differs from the topic\'s');
    expect(reason('plant/fg/gw1/press-1/temp', json({ seq: 1, ts: 'now' }))).toBe('ts is not a number');
  });
});

describe('AuditSession', () => {
  it('keeps one tracker per gateway and counts what it could not use', () => {
    const s = new AuditSession({ prefix: 'fg' });
    expect(s.observe('fg/gw1/press-1', device(1, [90]), 100)).toBe('data');
    expect(s.observe('fg/gw1/press-1', device(3, [95]), 101)).toBe('data');
    expect(s.observe('fg/gw1/press-1', device(3, [95]), 102)).toBe('duplicate');
    expect(s.observe('fg/gw2/oven/zone1', json({ seq: 40, value: 1, quality: 'good', ts: 99 }), 103)).toBe('data');
    expect(s.observe('fg/gw2/status', json({ online: true }), 104)).toBe('ignored');
    expect(s.observe('fg/gw2/oven', Buffer.from('garbage'), 105)).toBe('invalid');

    const r = s.report(200);
    expect(Object.keys(r.gateways)).toEqual(['gw1', 'gw2']);
    expect(r.complete).toBe(false);
    expect(r.gateways.gw1).toMatchObject({ messages: 2, duplicates: 1, openGaps: 1, gaps: [{ from: 2, to: 2, since: 101, missingFor: 99 }] });
    expect(r.gateways.gw2).toMatchObject({ messages: 1, baseline: 40, openGaps: 0 });
    expect(r).toMatchObject({ unparseable: 1, lastUnparseable: { topic: 'fg/gw2/oven', reason: 'payload is not JSON' }, ignored: 1 });
  });

  it('audits only the gateways asked for, and reports a silent one', () => {
    const s = new AuditSession({ prefix: 'fg', gateways: ['gw1', 'gw3'] });
    s.observe('fg/gw1/press-1', device(5, [1]), 10);
    expect(s.observe('fg/gw2/press-1', json({ seq: 1, gateway: 'gw2', readings: [] }), 11)).toBe('ignored');
    expect(s.observe('fg/gw2/press-1', Buffer.from('garbage'), 12)).toBe('ignored');
    const r = s.report(20);
    expect(Object.keys(r.gateways)).toEqual(['gw1', 'gw3']);
    expect(r.gateways.gw3).toMatchObject({ messages: 0, firstSeq: null, openGaps: 0 });
    expect(r).toMatchObject({ complete: true, ignored: 2, unparseable: 0 });
  });

  it('feeds any decoder into the same trackers (the seam for Sparkplug B)', () => {
    const s = new AuditSession({
      prefix: 'unused',
      decoder: (topic, payload) => ({ kind: 'data', observation: { gateway: topic, seq: payload.readUInt32BE(0), historical: false, readingTs: [] } }),
      tracker: { since: 0 },
    });
    const seq = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
    s.observe('node-a', seq(0), 1);
    s.observe('node-a', seq(2), 2);
    expect(s.report(3).gateways['node-a']).toMatchObject({ messages: 2, readings: 0, gaps: [{ from: 1, to: 1 }] });
  });
});
