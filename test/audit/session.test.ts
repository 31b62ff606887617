import { describe, expect, it } from 'vitest';
import { AuditSession, jsonDecoder } from '../../src/audit/completeness.js';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const device = (seq: number, ts: number[], extra: object = {}) =>
  json({ seq, gateway: 'gw1', device: 'press-1', readings: ts.map((t) => ({ tag: 'temp', value: 21.5, quality: 'good', ts: t })), ...extra });

describe('jsonDecoder', () => {
  const decode = jsonDecoder('plant/fg');

  it('reads a per_device batch', () => {
    expect(decode('plant/fg/gw1/press-1', device(7, [100, 101], { historical: true }))).toEqual({
      kind: 'data', observation: { gateway: 'gw1', seq: 7, epoch: null, historical: true, readingTs: [100, 101] },
    });
  });

  it('reads the epoch where the gateway sends one', () => {
    expect(decode('plant/fg/gw1/press-1', device(7, [100], { epoch: '0a1b2c3d4e5f' }))).toMatchObject({
      kind: 'data', observation: { seq: 7, epoch: '0a1b2c3d4e5f' },
    });
    expect(decode('plant/fg/gw1/press-1/temp', json({ seq: 8, epoch: '0a1b2c3d4e5f', value: 1, quality: 'good', ts: 5 }))).toMatchObject({
      kind: 'data', observation: { seq: 8, epoch: '0a1b2c3d4e5f' },
    });
  });

  it('reads a compact per_device message: each group\'s ts once per value, then the spelled-out readings', () => {
    const payload = json({
      seq: 9, epoch: '0a1b2c3d4e5f', gateway: 'gw1', device: 'press-1',
      groups: [{ ts: 100, values: { a: 1, b: true, c: 'x' } }, { ts: 103, values: { d: 2 } }],
      readings: [{ tag: 'e', value: null, quality: 'bad', ts: 104, error: 'timeout' }],
    });
    expect(decode('plant/fg/gw1/press-1', payload)).toEqual({
      kind: 'data', observation: { gateway: 'gw1', seq: 9, epoch: '0a1b2c3d4e5f', historical: false, readingTs: [100, 100, 100, 103, 104] },
    });
    expect(decode('plant/fg/gw1/press-1', json({ seq: 10, groups: [{ ts: 5, values: { a: 1 } }] }))).toMatchObject({
      kind: 'data', observation: { readingTs: [5] },
    });
  });

  it('reads a per_tag message', () => {
    expect(decode('plant/fg/gw1/press-1/temp', json({ seq: 8, value: null, quality: 'bad', ts: 5, error: 'timeout' }))).toEqual({
      kind: 'data', observation: { gateway: 'gw1', seq: 8, epoch: null, historical: false, readingTs: [5] },
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
    expect(reason('plant/fg/gw1/press-1', json({ seq: 1 }))).toBe('neither readings nor groups is an array');
    expect(reason('plant/fg/gw1/press-1', json({ seq: 1, groups: {} }))).toBe('neither readings nor groups is an array');
    expect(reason('plant/fg/gw1/press-1', json({ seq: 1, groups: [{ ts: 'now', values: {} }] }))).toBe('a group has no numeric ts');
    expect(reason('plant/fg/gw1/press-1', json({ seq: 1, groups: [{ ts: 1, values: [1] }] }))).toBe('a group\'s values is not an object');
    expect(reason('plant/fg/gw1/press-1', json({ seq: 1, groups: [], readings: 3 }))).toBe('readings is not an array');
    expect(reason('plant/fg/gw1/press-1', json({ seq: 1, epoch: 7, readings: [] }))).toBe('epoch is not a non-empty string');
    expect(reason('plant/fg/gw1/press-1/temp', json({ seq: 1, epoch: '', ts: 1 }))).toBe('epoch is not a non-empty string');
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
      decoder: (topic, payload) => ({ kind: 'data', observation: { gateway: topic, seq: payload.readUInt32BE(0), epoch: null, historical: false, readingTs: [] } }),
      tracker: { since: 0 },
    });
    const seq = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
    s.observe('node-a', seq(0), 1);
    s.observe('node-a', seq(2), 2);
    expect(s.report(3).gateways['node-a']).toMatchObject({ messages: 2, readings: 0, gaps: [{ from: 1, to: 1 }] });
  });
});

describe('AuditSession: one stream per epoch', () => {
  const E1 = 'aaaaaaaaaaa1';
  const E2 = 'bbbbbbbbbbb2';

  it('takes a new epoch starting again at seq 1 as a new stream, not as duplicates', () => {
    const s = new AuditSession({ prefix: 'fg' });
    for (const seq of [1, 2, 3, 4]) expect(s.observe('fg/gw1/press-1', device(seq, [seq], { epoch: E1 }), seq)).toBe('data');
    // The data dir was wiped: seq starts over under a new epoch.
    for (const seq of [1, 2, 3]) expect(s.observe('fg/gw1/press-1', device(seq, [10 + seq], { epoch: E2 }), 10 + seq)).toBe('data');
    expect(s.observe('fg/gw1/press-1', device(3, [13], { epoch: E2 }), 14)).toBe('duplicate');

    const r = s.report(20);
    expect(r.complete).toBe(true);
    const g = r.gateways.gw1;
    // The gateway's own figures are its current stream's.
    expect(g).toMatchObject({ epoch: E2, messages: 3, firstSeq: 1, lastSeq: 3, duplicates: 1, openGaps: 0 });
    expect(g.streams.map((x) => [x.epoch, x.messages, x.firstSeq, x.lastSeq, x.duplicates])).toEqual([
      [E1, 4, 1, 4, 0],
      [E2, 3, 1, 3, 1],
    ]);
  });

  it('counts gaps per stream, never across epochs, and the audit is complete only when every stream is', () => {
    const s = new AuditSession({ prefix: 'fg' });
    for (const seq of [1, 2, 4]) s.observe('fg/gw1/press-1', device(seq, [seq], { epoch: E1 }), seq);
    for (const seq of [1, 2]) s.observe('fg/gw1/press-1', device(seq, [seq], { epoch: E2 }), 10 + seq);
    let r = s.report(20);
    expect(r.complete).toBe(false);
    expect(r.gateways.gw1).toMatchObject({ epoch: E2, missing: 0, openGaps: 0 });
    expect(r.gateways.gw1.streams[0]).toMatchObject({ epoch: E1, missing: 1, gaps: [{ from: 3, to: 3 }] });
    // A late message of the earlier epoch still finds its stream.
    expect(s.observe('fg/gw1/press-1', device(3, [3], { epoch: E1 }), 21)).toBe('data');
    r = s.report(22);
    expect(r.complete).toBe(true);
    expect(r.gateways.gw1.streams.map((x) => [x.epoch, x.messages, x.openGaps])).toEqual([[E1, 4, 0], [E2, 2, 0]]);
  });

  it('keeps auditing a gateway before epochs, and one that starts sending an epoch', () => {
    const s = new AuditSession({ prefix: 'fg' });
    for (const seq of [7, 8]) s.observe('fg/gw1/press-1', device(seq, [seq]), seq);
    // Upgraded: seq goes on, now with an epoch; audited from its first arrival, no gap.
    for (const seq of [9, 10]) s.observe('fg/gw1/press-1', device(seq, [seq], { epoch: E1 }), seq);
    const g = s.report(20).gateways.gw1;
    expect(g.streams.map((x) => [x.epoch, x.baseline, x.lastSeq, x.openGaps])).toEqual([[null, 7, 8, 0], [E1, 9, 10, 0]]);
  });

  it('applies since to the first stream only: a new epoch is audited from its first arrival', () => {
    const s = new AuditSession({ prefix: 'fg', gateways: ['gw1'], tracker: { since: 100 } });
    expect(s.report(0).gateways.gw1).toMatchObject({ epoch: null, baseline: 100, messages: 0, streams: [] });
    s.observe('fg/gw1/press-1', device(102, [1], { epoch: E1 }), 1);
    s.observe('fg/gw1/press-1', device(5, [2], { epoch: E2 }), 2);
    const g = s.report(3).gateways.gw1;
    expect(g.streams.map((x) => [x.epoch, x.baseline, x.missing])).toEqual([[E1, 100, 2], [E2, 5, 0]]);
  });
});

describe('AuditSession: the audit\'s own outages', () => {
  const live = (s: AuditSession, seq: number, at: number, extra: object = {}) => s.observe('fg/gw1/press-1', device(seq, [at], extra), at);

  it('with the session resumed, a gap is missing: the broker kept everything for the audit', () => {
    const s = new AuditSession({ prefix: 'fg' });
    live(s, 1, 10);
    s.linkLost(20);
    s.linkRestored(50, true);
    live(s, 3, 60);
    const r = s.report(100);
    expect(r).toMatchObject({ complete: false, disconnects: 1, sessionsLost: 0, notObservedMs: 0, outages: [{ from: 20, to: 50, sessionResumed: true }] });
    expect(r.gateways.gw1).toMatchObject({ missing: 1, notObserved: 0, gaps: [{ from: 2, to: 2, notObserved: false }] });
  });

  it('with the session lost, gaps below the first live seq after it are not observed; later ones are missing', () => {
    const s = new AuditSession({ prefix: 'fg' });
    for (const seq of [1, 2, 4]) live(s, seq, seq);
    s.linkLost(20);
    s.linkRestored(50, false);
    // The backlog of the gateway's own reconnect, then live data again.
    live(s, 7, 55, { historical: true });
    live(s, 12, 60);
    let g = s.report(70).gateways.gw1;
    expect(g).toMatchObject({ missing: 0, notObserved: 7, openGaps: 3 });
    expect(g.gaps.map((x) => [x.from, x.to, x.notObserved])).toEqual([[3, 3, true], [5, 6, true], [8, 11, true]]);
    // After that, loss is loss again.
    live(s, 14, 80);
    live(s, 10, 81, { historical: true });
    const r = s.report(90);
    g = r.gateways.gw1;
    expect(g).toMatchObject({ missing: 1, notObserved: 6, openGaps: 5 });
    expect(g.gaps.map((x) => [x.from, x.to, x.notObserved])).toEqual([[3, 3, true], [5, 6, true], [8, 9, true], [11, 11, true], [13, 13, false]]);
    expect(r).toMatchObject({ complete: false, disconnects: 1, sessionsLost: 1, notObservedMs: 30 });
  });

  it('while the audit is down, every open gap is not observed: what fills it may be queued unseen', () => {
    const s = new AuditSession({ prefix: 'fg' });
    for (const seq of [1, 3]) live(s, seq, seq);
    expect(s.report(10).gateways.gw1).toMatchObject({ missing: 1, notObserved: 0 });
    s.linkLost(20);
    const r = s.report(35);
    expect(r.gateways.gw1).toMatchObject({ missing: 0, notObserved: 1, gaps: [{ from: 2, to: 2, notObserved: true }] });
    expect(r).toMatchObject({ disconnects: 1, notObservedMs: 15, outages: [{ from: 20, to: null, sessionResumed: null }] });
    // Resumed: the broker delivers what it kept; the gap is missing again.
    s.linkRestored(40, true);
    expect(s.report(45)).toMatchObject({ notObservedMs: 0, gateways: { gw1: { missing: 1, notObserved: 0 } } });
  });

  it('after a lost session, all gaps are not observed until a live message arrives', () => {
    const s = new AuditSession({ prefix: 'fg', tracker: { since: 1 } });
    for (const seq of [1, 2]) live(s, seq, seq);
    s.linkLost(5);
    s.linkRestored(8, false);
    // Only backlog so far: the live messages published unseen may lie above it.
    live(s, 5, 10, { historical: true });
    expect(s.report(11).gateways.gw1).toMatchObject({ missing: 0, notObserved: 2 });
    live(s, 8, 12);
    live(s, 10, 13);
    expect(s.report(14).gateways.gw1).toMatchObject({ missing: 1, notObserved: 4, gaps: [{ from: 3, to: 4 }, { from: 6, to: 7 }, { from: 9, to: 9, notObserved: false }] });
  });

  it('a gateway first heard after a lost session: its seqs from since up to the first live one are not observed', () => {
    const s = new AuditSession({ prefix: 'fg', tracker: { since: 1 } });
    s.observe('fg/gw1/press-1', device(1, [1]), 1);
    s.linkLost(5);
    s.linkRestored(8, false);
    const gw2 = (seq: number, at: number) => s.observe('fg/gw2/press-1', json({ seq, gateway: 'gw2', device: 'press-1', readings: [] }), at);
    gw2(4, 10);
    gw2(6, 11);
    expect(s.report(12).gateways.gw2).toMatchObject({ baseline: 1, missing: 1, notObserved: 3 });
  });
});
