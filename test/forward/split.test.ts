/**
 * Splitting a poll's readings under mqtt.max_message_bytes (src/message/encode.ts). Every part is
 * judged as the PUBLISH packet mqtt-packet (mqtt.js's own encoder) writes for it, with the
 * largest seq and the historical flag; the parts together must give back every reading, in
 * order; and no two neighbouring parts could have been one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'mqtt-packet';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/buffer/types.js';
import type { Quality, Reading } from '../../src/driver/contract.js';
import type { TagCommon as TagConfig } from '../../src/config/types.js';
import { Commands } from '../../src/commands/commands.js';
import { encodeReadings, encodeTagReading, encodeTagReadingWithin, splitReadings, type Part } from '../../src/message/encode.js';
import { BodyBudget } from '../../src/forward/message-size.js';
import { LONGEST_CLOCK_FLAG } from '../../src/clock/flag.js';
import { JsonFormat } from '../../src/forward/json-format.js';
import { SparkplugFormat } from '../../src/forward/sparkplug-format.js';
import { captureLog } from '../helpers/log.js';
import { device, modbusTag } from '../sparkplug/rig.js';
import { testConfig } from './config.js';

const EPOCH = '3f9a0c17be42';
const TS = 1764396220123;
const BIGGEST_SEQ = Number.MAX_SAFE_INTEGER;

/** The bytes of the QoS 1 PUBLISH that carries this payload, as mqtt.js puts it on the wire. */
function wireBytes(topic: string, payload: string | Buffer): number {
  return generate({ cmd: 'publish', topic, payload, qos: 1, messageId: 65535, retain: false, dup: false }).length;
}

function jsonSetup(maxMessageBytes: number, mqtt: Parameters<typeof testConfig>[0] = {}) {
  const config = testConfig(mqtt);
  const json = new JsonFormat(config, '0', EPOCH);
  return { json, budget: new BodyBudget(maxMessageBytes, json, json) };
}

/** The largest envelope a body can get: the biggest seq, and the longest clock flag. */
function stored(dev: string, body: string, tag: string | null = null, seq = BIGGEST_SEQ): StoredMessage {
  return { seq, device: dev, tag, body, readings: 0, ts: TS, clock: LONGEST_CLOCK_FLAG };
}

/** Every reading the parts carry, parsed, in order. */
const carried = (parts: readonly Part[]): unknown[] => parts.flatMap((p) => JSON.parse(p.body) as unknown[]);

const reading = (tag: string, value: Reading['value'], quality: Quality = 'good', error?: string): Reading =>
  error === undefined ? { tag, value, quality, ts: TS } : { tag, value, quality, ts: TS, error };

const arbReading: fc.Arbitrary<Reading> = fc.record({
  tag: fc.stringMatching(/^[a-zA-Z0-9_-]{1,40}$/),
  value: fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.boolean(),
    // Multi-byte text, so characters and bytes differ.
    fc.string({ unit: 'binary', maxLength: 600 }),
    fc.constant(null),
  ),
  quality: fc.constantFrom<Quality>('good', 'bad', 'uncertain'),
  ts: fc.integer({ min: TS - 86_400_000, max: TS }),
  error: fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
}).map((r) => (r.error === undefined ? { tag: r.tag, value: r.value, quality: r.quality, ts: r.ts } : r));

describe('splitReadings', () => {
  it('keeps a poll that fits as one message, byte for byte what it was', () => {
    const { budget } = jsonSetup(128_000);
    const readings = [reading('temperature', 21.5), reading('running', true)];
    const { parts, oversize } = splitReadings(readings, budget.of('press-1', null));
    expect(parts).toEqual([{ body: encodeReadings(readings), readings: 2, ts: TS }]);
    expect(oversize).toEqual([]);
  });

  it('a 300-tag poll under 4000 bytes: every PUBLISH within the limit, every reading once and in order, oldest ts per part', () => {
    const limit = 4000;
    const { json, budget } = jsonSetup(limit);
    const readings = Array.from({ length: 300 }, (_, i) => ({ ...reading(`tag_${String(i).padStart(3, '0')}`, i * 1.25), ts: TS - (i % 7) }));
    const { parts, oversize } = splitReadings(readings, budget.of('line-a', null));
    expect(oversize).toEqual([]);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      const msg = stored('line-a', p.body);
      expect(wireBytes(json.topic(msg), json.payload(msg, true))).toBeLessThanOrEqual(limit);
      const inside = JSON.parse(p.body) as Reading[];
      expect(p.readings).toBe(inside.length);
      expect(p.ts).toBe(Math.min(...inside.map((r) => r.ts)));
    }
    expect(carried(parts)).toEqual(JSON.parse(encodeReadings(readings)));
    console.log(`[split] 300 readings, ${Buffer.byteLength(encodeReadings(readings))} bytes of body: ${parts.length} messages under ${limit} bytes`);
  });

  it('property: any poll, any limit, any names: within the limit, nothing lost or reordered, no part that could have been merged', () => {
    fc.assert(
      fc.property(
        fc.array(arbReading, { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 1024, max: 6000 }),
        fc.stringMatching(/^[a-zA-Z0-9_-]{1,30}$/),
        fc.stringMatching(/^[a-zA-Z0-9_-]{1,30}$/),
        (readings, limit, dev, prefix) => {
          const { json, budget } = jsonSetup(limit, { mqtt: { topic_prefix: prefix } });
          const max = budget.of(dev, null);
          const { parts, oversize } = splitReadings(readings, max);
          // No reading here reaches a whole message on its own.
          expect(oversize).toEqual([]);
          for (const p of parts) {
            expect(Buffer.byteLength(p.body)).toBeLessThanOrEqual(max);
            const msg = stored(dev, p.body);
            expect(wireBytes(json.topic(msg), json.payload(msg, true))).toBeLessThanOrEqual(limit);
          }
          expect(carried(parts)).toEqual(JSON.parse(encodeReadings(readings)));
          for (let i = 1; i < parts.length; i++) {
            const merged = parts[i - 1].body.slice(0, -1) + ',' + JSON.stringify((JSON.parse(parts[i].body) as unknown[])[0]) + ']';
            expect(Buffer.byteLength(merged)).toBeGreaterThan(max);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the budget is tight: a body of exactly the budget makes a PUBLISH within 3 bytes of the limit, one byte more passes it', () => {
    for (const limit of [1024, 4000, 128_000]) {
      const { json, budget } = jsonSetup(limit);
      const max = budget.of('press-1', null);
      const body = (n: number) => '["' + 'x'.repeat(n - 4) + '"]';
      const at = stored('press-1', body(max));
      const size = wireBytes(json.topic(at), json.payload(at, true));
      expect(size).toBeLessThanOrEqual(limit);
      // The budget reserves 4 bytes of remaining length; shorter packets need fewer.
      expect(size).toBeGreaterThanOrEqual(limit - 3);
      const over = stored('press-1', body(max + 4));
      expect(wireBytes(json.topic(over), json.payload(over, true))).toBeGreaterThan(limit);
    }
  });

  it('a reading too large even alone: its value is dropped, it goes out as null, bad, with why; the rest stay in order', () => {
    const limit = 4000;
    const { json, budget } = jsonSetup(limit);
    const huge = 'é'.repeat(5_000);
    const readings = [reading('a', 1), reading('recipe', huge), reading('b', 2)];
    const { parts, oversize } = splitReadings(readings, budget.of('press-1', null));
    expect(oversize).toEqual([{ tag: 'recipe', bytes: Buffer.byteLength(encodeReadings([readings[1]])) - 2 }]);
    expect(carried(parts)).toEqual([
      { tag: 'a', value: 1, quality: 'good', ts: TS },
      { tag: 'recipe', value: null, quality: 'bad', ts: TS, error: `value dropped: the reading is ${oversize[0].bytes} bytes, too large for mqtt.max_message_bytes` },
      { tag: 'b', value: 2, quality: 'good', ts: TS },
    ]);
    for (const p of parts) {
      const msg = stored('press-1', p.body);
      expect(wireBytes(json.topic(msg), json.payload(msg, true))).toBeLessThanOrEqual(limit);
    }
  });

  it('at the edge: a reading that fills a message alone is kept, one byte more is dropped', () => {
    const { budget } = jsonSetup(4000);
    const max = budget.of('press-1', null);
    // [{"tag":"s","value":"…","quality":"good","ts":1764396220123}]
    const frame = encodeReadings([reading('s', '')]).length;
    const fills = reading('s', 'x'.repeat(max - frame));
    const kept = splitReadings([reading('a', 1), fills, reading('b', 2)], max);
    expect(kept.oversize).toEqual([]);
    expect(kept.parts.map((p) => p.readings)).toEqual([1, 1, 1]);
    expect(Buffer.byteLength(kept.parts[1].body)).toBe(max);

    const dropped = splitReadings([reading('s', 'x'.repeat(max - frame + 1))], max);
    expect(dropped.oversize).toEqual([{ tag: 's', bytes: max - 1 }]);
    expect(JSON.parse(dropped.parts[0].body)).toMatchObject([{ tag: 's', value: null, quality: 'bad' }]);
  });

  it('at the edge: two readings that fill a body exactly share it, one byte more and they do not', () => {
    const { budget } = jsonSetup(4000);
    const max = budget.of('press-1', null);
    const frame = encodeReadings([reading('s', ''), reading('s', '')]).length;
    const pair = (extra: number) => {
      const n = max - frame + extra;
      return [reading('s', 'x'.repeat(Math.floor(n / 2))), reading('s', 'x'.repeat(Math.ceil(n / 2)))];
    };
    const together = splitReadings(pair(0), max).parts;
    expect(together.map((p) => Buffer.byteLength(p.body))).toEqual([max]);
    expect(splitReadings(pair(1), max).parts.map((p) => p.readings)).toEqual([1, 1]);
  });
});

describe('encodeTagReadingWithin (publish: per_tag)', () => {
  const limit = 2000;
  const { json, budget } = jsonSetup(limit, { mqtt: { publish: 'per_tag' } });

  it('a reading that fits is encodeTagReading, unchanged', () => {
    const r = reading('temperature', 21.5);
    expect(encodeTagReadingWithin(r, budget.of('press-1', 'temperature'))).toEqual({ body: encodeTagReading(r) });
  });

  it('the largest string that fits stays within the limit; one too large goes out null and bad', () => {
    const max = budget.of('press-1', 'recipe');
    // {"value":"…","quality":"good","ts":1764396220123}
    const frame = encodeTagReading(reading('recipe', '')).length;
    const fitting = reading('recipe', 'x'.repeat(max - frame));
    const kept = encodeTagReadingWithin(fitting, max);
    expect(kept.oversize).toBeUndefined();
    const msg = stored('press-1', kept.body, 'recipe');
    expect(wireBytes(json.topic(msg), json.payload(msg, true))).toBeLessThanOrEqual(limit);

    const tooLarge = encodeTagReadingWithin(reading('recipe', 'x'.repeat(max - frame + 1)), max);
    expect(tooLarge.oversize).toEqual({ tag: 'recipe', bytes: max + 1 });
    expect(JSON.parse(tooLarge.body)).toMatchObject({ value: null, quality: 'bad', error: expect.stringMatching(/too large for mqtt.max_message_bytes/) });
  });
});

describe('Sparkplug B: the JSON bound holds for DDATA', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

  /** A born Sparkplug format for one device, on a link that publishes nowhere. */
  function bornFormat(limit: number, tags: TagConfig[]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-split-'));
    dirs.push(dir);
    const { log } = captureLog();
    // A long group id makes the Sparkplug topic longer than the JSON topic and envelope together:
    // the budget must take the longer topic.
    const config = testConfig({ dataDir: dir, mqtt: { format: 'sparkplug_b', sparkplug: { group_id: 'g'.repeat(300), edge_node_id: 'gw-test' } } });
    const view = { config: device('big', tags), up: true, error: null, last: () => [] };
    const format = new SparkplugFormat({
      config, log, epoch: EPOCH,
      source: { devices: () => [view], device: (name) => (name === 'big' ? view : undefined) },
      commands: new Commands({ log, target: { tagsOf: () => undefined, write: async () => {} } }),
    });
    format.open({ publish: () => {}, subscribe: () => {}, release: () => {}, close: () => {} });
    const json = new JsonFormat(config, '0', EPOCH);
    return { format, budget: new BodyBudget(limit, json, format) };
  }

  const TYPES = ['float32', 'float64', 'uint16', 'int32', 'int64', 'uint64', 'bool', 'string'] as const;
  const arbTyped = fc.tuple(
    fc.constantFrom(...TYPES),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.constantFrom<Quality>('good', 'good', 'bad', 'uncertain'),
    fc.option(fc.string({ maxLength: 60 }), { nil: undefined }),
  );

  function valueOf(type: (typeof TYPES)[number], n: number, s: string): Reading['value'] {
    switch (type) {
      case 'bool': return n > 0;
      case 'string': return s;
      case 'float32': case 'float64': return n;
      case 'int64': case 'uint64': return BigInt(Math.trunc(Math.abs(n) % Number.MAX_SAFE_INTEGER));
      default: return Math.trunc(Math.abs(n) % 30_000);
    }
  }

  it('one string reading that fills the JSON budget: its DDATA, on a longer topic, still fits', () => {
    const limit = 2000;
    const { format, budget } = bornFormat(limit, [modbusTag('recipe', 'string', { length: 125 })]);
    try {
      const max = budget.of('big', null);
      const frame = encodeReadings([reading('recipe', '')]).length;
      const { parts } = splitReadings([reading('recipe', 'x'.repeat(max - frame))], max);
      expect(parts).toHaveLength(1);
      const msg: StoredMessage = { ...stored('big', parts[0].body), readings: 1 };
      expect(wireBytes(format.topic(msg), format.payload(msg, true)!)).toBeLessThanOrEqual(limit);
    } finally {
      format.closed();
    }
  });

  it('property: every DDATA of a split poll (topic and protobuf) fits where its JSON message does', () => {
    fc.assert(
      fc.property(fc.array(arbTyped, { minLength: 1, maxLength: 80 }), fc.integer({ min: 1024, max: 5000 }), (specs, limit) => {
        const tags = specs.map(([type], i) => modbusTag(`t${i}`, type, type === 'string' ? { length: 125 } : {}));
        const readings = specs.map(([type, n, s, quality, error], i) => {
          const r = reading(`t${i}`, quality === 'bad' ? null : valueOf(type, n, s), quality);
          return error === undefined ? r : { ...r, error };
        });
        const { format, budget } = bornFormat(limit, tags);
        try {
          const { parts } = splitReadings(readings, budget.of('big', null));
          for (const p of parts) {
            const msg: StoredMessage = { ...stored('big', p.body), readings: p.readings, ts: p.ts };
            const payload = format.payload(msg, true)!;
            expect(wireBytes(format.topic(msg), payload)).toBeLessThanOrEqual(limit);
          }
        } finally {
          format.closed();
        }
      }),
      { numRuns: 100 },
    );
  });
});
