/**
 * The compact per_device layout (src/message/compact.ts) judged by a decoder written here from
 * reference §3, not by the encoder's own code: every reading the readings layout carries comes
 * back, with its value, quality, ts and error, and good readings that share a ts share one.
 */
import fc from 'fast-check';
import { generate } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/buffer/types.js';
import type { Quality, Reading } from '../../src/driver/contract.js';
import { encodeCompact, splitCompact } from '../../src/message/compact.js';
import { encodeReadings } from '../../src/message/encode.js';
import { BodyBudget } from '../../src/forward/message-size.js';
import { JsonFormat } from '../../src/forward/json-format.js';
import { testConfig } from '../forward/config.js';

const TS = 1764396220123;

interface Expanded { tag: string; value: unknown; quality: string; ts: number; error?: string }

/** Reference §3's compact layout read back into one record per reading. */
function expand(body: string): Expanded[] {
  const parsed = JSON.parse(body) as { groups?: { ts: number; values: Record<string, unknown> }[]; readings?: Expanded[] };
  const out: Expanded[] = [];
  for (const g of parsed.groups ?? []) {
    expect(Object.keys(g).sort()).toEqual(['ts', 'values']);
    for (const [tag, value] of Object.entries(g.values)) out.push({ tag, value, quality: 'good', ts: g.ts });
  }
  for (const r of parsed.readings ?? []) out.push(r);
  return out;
}

/** A multiset of readings, as the readings layout spells them, in a comparable order. */
const sorted = (rs: unknown[]): string[] => rs.map((r) => JSON.stringify(r, Object.keys(r as object).sort())).sort();

const reading = (tag: string, value: Reading['value'], quality: Quality = 'good', ts = TS, error?: string): Reading =>
  error === undefined ? { tag, value, quality, ts } : { tag, value, quality, ts, error };

const arbReading: fc.Arbitrary<Reading> = fc.record({
  tag: fc.constantFrom('a', 'b', 'Zone1.Temp', 'Température', 'x"y', 'c'),
  value: fc.oneof(fc.double(), fc.integer(), fc.boolean(), fc.string({ unit: 'binary', maxLength: 40 }), fc.constant(null),
    fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n })),
  quality: fc.constantFrom<Quality>('good', 'good', 'good', 'bad', 'uncertain'),
  ts: fc.integer({ min: TS, max: TS + 3 }),
  error: fc.option(fc.string({ maxLength: 20 }), { nil: undefined, freq: 4 }),
}).map((r) => (r.error === undefined ? { tag: r.tag, value: r.value, quality: r.quality, ts: r.ts } : r));

describe('encodeCompact', () => {
  it('one group for a poll read at one instant: the ts once, the values by tag name', () => {
    const body = encodeCompact([reading('temperature', 21.5), reading('running', true), reading('count', 7)]);
    expect(JSON.parse(body)).toEqual({ groups: [{ ts: TS, values: { temperature: 21.5, running: true, count: 7 } }] });
  });

  it('bad, uncertain and errored readings are spelled out under readings, as the readings layout has them', () => {
    const readings = [
      reading('a', 1), reading('b', null, 'bad', TS, 'timeout after 1000 ms'), reading('c', 2.5, 'uncertain'),
      reading('d', 3, 'good', TS, 'scaled value clipped'), reading('e', NaN),
    ];
    const parsed = JSON.parse(encodeCompact(readings)) as { groups: unknown[]; readings: unknown[] };
    expect(parsed.groups).toEqual([{ ts: TS, values: { a: 1 } }]);
    expect(parsed.readings).toEqual((JSON.parse(encodeReadings(readings)) as unknown[]).slice(1));
    expect(parsed.readings).toContainEqual({ tag: 'e', value: null, quality: 'bad', ts: TS, error: 'value is NaN' });
  });

  it('a group per timestamp (one per request of a poll), in the order they first appear', () => {
    const parsed = JSON.parse(encodeCompact([reading('a', 1, 'good', TS), reading('b', 2, 'good', TS + 4), reading('c', 3, 'good', TS)]));
    expect(parsed).toEqual({ groups: [{ ts: TS, values: { a: 1, c: 3 } }, { ts: TS + 4, values: { b: 2 } }] });
  });

  it('a tag twice in one body keeps both readings: the groups name it once, the second is spelled out', () => {
    const body = encodeCompact([reading('w', 1), reading('w', 2, 'good', TS + 1), reading('w', 3)]);
    expect(body).toBe('{"groups":[{"ts":1764396220123,"values":{"w":1}}],"readings":[' +
      '{"tag":"w","value":2,"quality":"good","ts":1764396220124},{"tag":"w","value":3,"quality":"good","ts":1764396220123}]}');
  });

  it('property: any readings come back as the readings layout has them, none lost or added', () => {
    fc.assert(fc.property(fc.array(arbReading, { minLength: 1, maxLength: 30 }), (readings) => {
      expect(sorted(expand(encodeCompact(readings)))).toEqual(sorted(JSON.parse(encodeReadings(readings)) as unknown[]));
    }), { numRuns: 500 });
  });

  it('1,000 uint16 tags of one device: at most 20 bytes of PUBLISH per reading (readings layout: about 50)', () => {
    const config = testConfig({ mqtt: { json_layout: 'compact' } });
    const json = new JsonFormat(config, '0', '3f9a0c17be42');
    const readings = Array.from({ length: 1000 }, (_, i) => reading(`t${String(i).padStart(5, '0')}`, (i * 4099) % 65536, 'good', TS + (i >> 7)));
    const perReading = (body: string) => {
      const msg: StoredMessage = { seq: 48213, device: 'plc000', tag: null, body, readings: 1000, ts: TS };
      return generate({ cmd: 'publish', topic: json.topic(msg), payload: json.payload(msg, false), qos: 1, messageId: 1, retain: false, dup: false }).length / 1000;
    };
    const compact = perReading(encodeCompact(readings));
    const full = perReading(encodeReadings(readings));
    console.log(`[compact] 1,000 uint16 readings, 8 requests: ${compact} B per reading compact, ${full} B readings`);
    expect(compact).toBeLessThanOrEqual(20);
    expect(full).toBeGreaterThan(2 * compact);
  });
});

describe('the JSON format around a compact body', () => {
  it('puts the envelope members first and the body\'s members after them, in one object', () => {
    const json = new JsonFormat(testConfig({ mqtt: { json_layout: 'compact' } }), '0', '3f9a0c17be42');
    const body = encodeCompact([reading('a', 1), reading('b', null, 'bad', TS, 'down')]);
    const payload = String(json.payload({ seq: 7, device: 'press-1', tag: null, body, readings: 2, ts: TS }, true));
    expect(JSON.parse(payload)).toEqual({
      seq: 7, epoch: '3f9a0c17be42', historical: true, gateway: 'gw-test', device: 'press-1',
      groups: [{ ts: TS, values: { a: 1 } }], readings: [{ tag: 'b', value: null, quality: 'bad', ts: TS, error: 'down' }],
    });
    expect(payload.startsWith('{"seq":7,"epoch":"3f9a0c17be42","historical":true,"gateway":"gw-test","device":"press-1","groups":')).toBe(true);
  });
});

describe('splitCompact', () => {
  const setup = (limit: number) => {
    const json = new JsonFormat(testConfig({ mqtt: { json_layout: 'compact' } }), '0', '3f9a0c17be42');
    return { json, max: new BodyBudget(limit, json, json).of('press-1', null) };
  };
  const wire = (json: JsonFormat, body: string) => {
    const msg: StoredMessage = { seq: Number.MAX_SAFE_INTEGER, device: 'press-1', tag: null, body, readings: 0, ts: TS };
    return generate({ cmd: 'publish', topic: json.topic(msg), payload: json.payload(msg, true), qos: 1, messageId: 65535, retain: false, dup: false }).length;
  };

  it('a poll that fits stays one message, byte for byte encodeCompact()', () => {
    const readings = [reading('a', 1), reading('b', null, 'bad', TS, 'x')];
    const { max } = setup(128_000);
    expect(splitCompact(readings, max)).toEqual({ parts: [{ body: encodeCompact(readings), readings: 2, ts: TS }], oversize: [] });
  });

  it('property: any poll, any limit: every PUBLISH within the limit, every reading once, no part that could have taken the next reading', () => {
    fc.assert(fc.property(fc.array(arbReading, { minLength: 1, maxLength: 150 }), fc.integer({ min: 1024, max: 3000 }), (readings, limit) => {
      const { json, max } = setup(limit);
      const { parts, oversize } = splitCompact(readings, max);
      expect(oversize).toEqual([]);
      let next = 0;
      for (const [i, p] of parts.entries()) {
        expect(Buffer.byteLength(p.body)).toBeLessThanOrEqual(max);
        expect(wire(json, p.body)).toBeLessThanOrEqual(limit);
        const inside = expand(p.body);
        expect(p.readings).toBe(inside.length);
        expect(p.ts).toBe(Math.min(...inside.map((r) => r.ts)));
        // Ordered and greedy: this part is the next readings, and one more would not have fitted.
        const own = readings.slice(next, next + p.readings);
        expect(sorted(inside)).toEqual(sorted(JSON.parse(encodeReadings(own)) as unknown[]));
        next += p.readings;
        if (i < parts.length - 1) expect(Buffer.byteLength(encodeCompact(readings.slice(next - p.readings, next + 1)))).toBeGreaterThan(max);
      }
      expect(next).toBe(readings.length);
    }), { numRuns: 300 });
  });

  it('a reading too large even alone goes out as null, bad, with why, and is reported', () => {
    const { max } = setup(1024);
    const { parts, oversize } = splitCompact([reading('a', 1), reading('recipe', 'é'.repeat(2000)), reading('b', 2)], max);
    expect(oversize.map((o) => o.tag)).toEqual(['recipe']);
    const all = parts.flatMap((p) => expand(p.body));
    expect(all.find((r) => r.tag === 'recipe')).toMatchObject({ value: null, quality: 'bad', error: expect.stringMatching(/^value dropped/) });
    expect(all.map((r) => r.tag).sort()).toEqual(['a', 'b', 'recipe']);
  });
});
