import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { convert } from '../convert.js';
import { LineMatcher } from '../match.js';
import { escapeText } from '../escape.js';
import { SCALE_PATTERN, stag } from './helpers.js';

describe('convert', () => {
  it.each([
    ['float64', '12.345', 12.345],
    ['float64', '  -  0.5 ', -0.5],
    ['float64', '+.25', 0.25],
    ['float64', '1e3', 1000],
    ['int64', '-42', -42],
    ['int64', '+ 7', 7],
    ['int64', '9223372036854775807', 9223372036854775807n],
    ['int64', '-9223372036854775808', -9223372036854775808n],
    ['string', '  ABC-123 ', '  ABC-123 '],
    ['string', '', ''],
    ['bool', '1', true],
    ['bool', '0', false],
    ['bool', '0.00', false],
    ['bool', 'ST', true],
    ['bool', 'OFF', false],
    ['bool', 'no', false],
    ['bool', '', false],
  ] as const)('%s %j -> %s', (type, text, value) => {
    expect(convert(stag({ name: 't', type }), text)).toEqual({ value });
  });

  it('a bool whose group took no part is false; any other type is bad', () => {
    expect(convert(stag({ name: 'stable', type: 'bool' }), undefined)).toEqual({ value: false });
    expect(convert(stag({ name: 'w', type: 'float64' }), undefined)).toEqual({ error: 'group "w" took no part in the match' });
    expect(convert(stag({ name: 's', type: 'string' }), undefined)).toHaveProperty('error');
  });

  it('scales numbers: value = raw * scale + offset', () => {
    expect(convert(stag({ name: 't', type: 'float64', scale: 0.1, offset: -40 }), '650')).toEqual({ value: 650 * 0.1 - 40 });
    expect(convert(stag({ name: 't', type: 'int64', scale: 2, offset: 1 }), '-3')).toEqual({ value: -5 });
  });

  it('rejects text that is not a number of the type, saying what it got', () => {
    expect(convert(stag({ name: 't', type: 'float64' }), '1,5')).toEqual({ error: 'cannot read "1,5" as a number' });
    expect(convert(stag({ name: 't', type: 'float64' }), '')).toEqual({ error: 'cannot read "" as a number' });
    expect(convert(stag({ name: 't', type: 'float64' }), '0x10')).toHaveProperty('error');
    expect(convert(stag({ name: 't', type: 'int64' }), '1.5')).toEqual({ error: 'cannot read "1.5" as an integer' });
    expect(convert(stag({ name: 't', type: 'int64' }), '9223372036854775808')).toEqual({ error: '9223372036854775808 is out of the int64 range' });
    expect(convert(stag({ name: 't', type: 'float64' }), '1e999')).toEqual({ error: 'value Infinity is out of range' });
  });

  it('fuzz: any text, any type -> a value of that type or an error, never a throw', () => {
    fc.assert(fc.property(
      fc.constantFrom('string', 'float64', 'int64', 'bool') as fc.Arbitrary<'string' | 'float64' | 'int64' | 'bool'>,
      fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
      (type, text) => {
        const c = convert(stag({ name: 't', type }), text);
        if ('error' in c) return;
        const expected = { string: 'string', float64: 'number', int64: ['number', 'bigint'], bool: 'boolean' }[type];
        expect(expected).toContain(typeof c.value);
        if (typeof c.value === 'number') expect(Number.isFinite(c.value)).toBe(true);
      },
    ), { numRuns: 1000 });
  });
});

describe('LineMatcher', () => {
  const weight = stag({ name: 'weight', type: 'float64' });

  it('turns a matching line into one reading per tag, stamped with the arrival time', () => {
    const m = new LineMatcher(SCALE_PATTERN, [weight]);
    expect(m.match('ST,GS,  12.345 kg', 1234)).toEqual([{ tag: 'weight', value: 12.345, quality: 'good', ts: 1234 }]);
    expect(m.match('ST,NT,  12.345 kg', 1234)).toBeUndefined();
    expect(m.match('\x9a\x02,GS,  12.345 kg', 1234)).toBeUndefined();
  });

  it('reads several groups of one line, bad only where a group is not a value', () => {
    const pattern = String.raw`^(?<status>ST|US),(?<mode>GS|NT),\s*(?<weight>\S+)\s*(?<unit>\w+)$`;
    const m = new LineMatcher(pattern, [
      stag({ name: 'stable', group: 'status', type: 'string' }),
      stag({ name: 'kg', group: 'weight', type: 'float64', scale: 1000 }),
      stag({ name: 'unit', type: 'string' }),
    ]);
    expect(m.match('US,GS,  -1.5 kg', 5)).toEqual([
      { tag: 'stable', value: 'US', quality: 'good', ts: 5 },
      { tag: 'kg', value: -1500, quality: 'good', ts: 5 },
      { tag: 'unit', value: 'kg', quality: 'good', ts: 5 },
    ]);
    expect(m.match('ST,GS, ----- kg', 6)?.[1]).toEqual({ tag: 'kg', value: null, quality: 'bad', ts: 6, error: 'cannot read "-----" as a number' });
  });

  it('reads a barcode and an optional flag group', () => {
    const m = new LineMatcher(String.raw`^(?<code>[0-9A-Z]{8,14})(?<manual>\*)?$`, [
      stag({ name: 'code', type: 'string' }),
      stag({ name: 'manual', type: 'bool' }),
    ]);
    expect(m.match('4006381333931', 1)?.map((r) => r.value)).toEqual(['4006381333931', false]);
    expect(m.match('4006381333931*', 1)?.map((r) => r.value)).toEqual(['4006381333931', true]);
  });
});

describe('escapeText', () => {
  it('shows control and non-ASCII bytes as escapes and cuts long text', () => {
    expect(escapeText('ST\r\n\x00\xb0"\\')).toBe(String.raw`"ST\r\n\x00\xb0\"\\"`);
    expect(escapeText('abcdef', 3)).toBe('"abc" (+3 more)');
  });
});
