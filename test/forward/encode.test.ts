import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Quality, Reading } from '../../src/driver/contract.js';
import { encodeReadings, encodeTagReading } from '../../src/message/encode.js';

const r = (tag: string, value: Reading['value'], quality: Quality = 'good', error?: string): Reading =>
  error === undefined ? { tag, value, quality, ts: 1764396220123 } : { tag, value, quality, ts: 1764396220123, error };

describe('encodeReadings', () => {
  it.each([
    ['bool true', true, 'true'],
    ['bool false', false, 'false'],
    ['integer', 42, '42'],
    ['negative float', -21.5, '-21.5'],
    ['tiny float', 1e-7, '1e-7'],
    ['huge float', 1.5e300, '1.5e+300'],
    ['negative zero', -0, '0'],
    ['string with quotes and newline', 'a"b\n', '"a\\"b\\n"'],
    ['bigint within 2^53-1', 9007199254740991n, '9007199254740991'],
    ['negative bigint within range', -9007199254740991n, '-9007199254740991'],
    ['bigint beyond 2^53-1', 9007199254740992n, '"9007199254740992"'],
    ['uint64 max', 18446744073709551615n, '"18446744073709551615"'],
    ['int64 min', -9223372036854775808n, '"-9223372036854775808"'],
    ['array', [1, true, 'x', null], '[1,true,"x",null]'],
    ['null', null, 'null'],
  ] as const)('%s', (_name, value, json) => {
    expect(encodeReadings([r('t', value)])).toBe(`[{"tag":"t","value":${json},"quality":"good","ts":1764396220123}]`);
  });

  it('writes null for a bad reading whatever the value, with its error', () => {
    const body = encodeReadings([r('temp', 12, 'bad', 'timeout after 1000 ms')]);
    expect(JSON.parse(body)).toEqual([{ tag: 'temp', value: null, quality: 'bad', ts: 1764396220123, error: 'timeout after 1000 ms' }]);
  });

  it('keeps uncertain quality and its error', () => {
    expect(JSON.parse(encodeReadings([r('x', 1.5, 'uncertain', 'sensor drift')]))).toEqual([
      { tag: 'x', value: 1.5, quality: 'uncertain', ts: 1764396220123, error: 'sensor drift' },
    ]);
  });

  it.each([
    [Number.NaN, 'value is NaN'],
    [Number.POSITIVE_INFINITY, 'value is Infinity'],
    [Number.NEGATIVE_INFINITY, 'value is -Infinity'],
  ])('turns %s into null with quality bad and says why', (value, error) => {
    expect(JSON.parse(encodeReadings([r('x', value)]))).toEqual([{ tag: 'x', value: null, quality: 'bad', ts: 1764396220123, error }]);
  });

  it('escapes tag names and keeps several readings in order', () => {
    const body = encodeReadings([r('a"b', 1), r('ü/ß', 2), r('a"b', 3)]);
    expect(JSON.parse(body).map((x: { tag: string; value: number }) => [x.tag, x.value])).toEqual([['a"b', 1], ['ü/ß', 2], ['a"b', 3]]);
  });

  it('encodes an empty batch as an empty array', () => {
    expect(encodeReadings([])).toBe('[]');
  });
});

describe('encodeTagReading', () => {
  it('is one JSON object without the tag name', () => {
    expect(encodeTagReading(r('t', 21.5))).toBe('{"value":21.5,"quality":"good","ts":1764396220123}');
    expect(JSON.parse(encodeTagReading(r('t', 1, 'bad', 'no answer')))).toEqual({ value: null, quality: 'bad', ts: 1764396220123, error: 'no answer' });
  });
});

/** What a reading should look like once parsed back: the model the encoder must agree with. */
function expected(x: Reading): Record<string, unknown> {
  let { value, quality } = x;
  let error = x.error;
  // A reading already bad keeps its own error: its value is ignored anyway.
  if (quality !== 'bad' && typeof value === 'number' && !Number.isFinite(value)) {
    error = Number.isNaN(value) ? 'value is NaN' : `value is ${value}`;
    quality = 'bad';
    value = null;
  }
  if (quality === 'bad') value = null;
  if (typeof value === 'bigint') value = value >= -(2n ** 53n - 1n) && value <= 2n ** 53n - 1n ? Number(value) : value.toString();
  // JSON has no -0: it reads back as 0, in an array as anywhere else.
  if (Array.isArray(value)) value = value.map((v) => (typeof v === 'number' && !Number.isFinite(v) ? null : Object.is(v, -0) ? 0 : v));
  const out: Record<string, unknown> = { tag: x.tag, value: Object.is(value, -0) ? 0 : value, quality, ts: x.ts };
  if (error !== undefined) out.error = error;
  return out;
}

const reading: fc.Arbitrary<Reading> = fc.record(
  {
    tag: fc.string(),
    value: fc.oneof(
      fc.boolean(), fc.double(), fc.integer(), fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), fc.string(), fc.constant(null),
      fc.array(fc.oneof(fc.boolean(), fc.double(), fc.string(), fc.constant(null)), { maxLength: 5 }),
    ),
    quality: fc.constantFrom<Quality>('good', 'bad', 'uncertain'),
    ts: fc.integer({ min: 0, max: 2 ** 45 }),
    error: fc.string(),
  },
  { requiredKeys: ['tag', 'value', 'quality', 'ts'] },
);

describe('encoding properties', () => {
  it('always yields valid JSON that parses back to the model', () => {
    fc.assert(fc.property(fc.array(reading, { maxLength: 8 }), (readings) => {
      expect(JSON.parse(encodeReadings(readings))).toEqual(readings.map(expected));
      for (const x of readings) {
        const { tag: _tag, ...rest } = expected(x);
        expect(JSON.parse(encodeTagReading(x))).toEqual(rest);
      }
    }), { numRuns: 500 });
  });
});
