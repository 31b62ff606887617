import { describe, expect, test } from 'vitest';
import { parseDuration, parseSize } from '../../src/config/units.js';
import { expandEnv } from '../../src/config/env.js';
import { didYouMean, editDistance } from '../../src/config/words.js';

describe('durations → milliseconds', () => {
  test.each([
    [250, 250], ['250', 250], ['250ms', 250], ['5s', 5000], ['1.5s', 1500], ['0.7s', 700], ['.5s', 500],
    ['2m', 120_000], ['1h', 3_600_000], ['7d', 604_800_000], [' 5s ', 5000], [0, 0], [-5, -5],
  ])('%j → %d', (input, ms) => expect(parseDuration(input)).toBe(ms));

  test.each(['5 sec', '5S', '5 s', 's', '', '1e3ms', '-5s', '5w', 'Infinity'])('%j is not a duration', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });

  test.each([[true], [null], [undefined], [Number.NaN], [Number.POSITIVE_INFINITY], [{}]])('%j is not a duration', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe('sizes → bytes', () => {
  test.each([
    [1024, 1024], ['1024', 1024], ['10B', 10], ['2KB', 2000], ['2kb', 2000], ['2MB', 2_000_000], ['2GB', 2e9], ['1TB', 1e12],
    ['1KiB', 1024], ['512MiB', 536_870_912], ['512mib', 536_870_912], ['1GiB', 2 ** 30], ['1TiB', 2 ** 40],
    ['1.5KiB', 1536], ['512 MiB', 536_870_912], [10.9, 10],
  ])('%j → %d', (input, bytes) => expect(parseSize(input)).toBe(bytes));

  test.each(['5 megs', '5M', 'MiB', '', '1 2MB', '2XB'])('%j is not a size', (input) => {
    expect(parseSize(input)).toBeUndefined();
  });
});

describe('${VAR} expansion', () => {
  const env = { A: 'alpha', EMPTY: '' };
  test.each([
    ['plain', 'plain'], ['${A}', 'alpha'], ['x${A}y${A}', 'xalphayalpha'], ['${B:-beta}', 'beta'], ['${EMPTY:-d}', 'd'],
    ['${EMPTY}', ''], ['${A:-d}', 'alpha'], ['${B:-}', ''], ['$${A}', '${A}'], ['$A', '$A'], ['${B:-a:-b}', 'a:-b'],
  ])('%j → %j', (text, expanded) => expect(expandEnv(text, env)).toEqual({ ok: true, text: expanded }));

  test.each([
    ['${B}', 'environment variable B is not set (write ${B:-default} to give a default)'],
    ['${A', 'unterminated "${" (write $${ for a literal ${)'],
    ['${1A}', 'invalid variable name "1A" in "${1A}"'],
    ['${}', 'invalid variable name "" in "${}"'],
  ])('%j is an error', (text, message) => expect(expandEnv(text, env)).toEqual({ ok: false, message }));
});

test('did you mean: within edit distance 2, case-insensitive', () => {
  expect(editDistance('adress', 'address')).toBe(1);
  expect(editDistance('kitten', 'sitting')).toBe(3);
  expect(didYouMean('adress', ['area', 'address', 'type'])).toBe('; did you mean "address"?');
  expect(didYouMean('sign', ['None', 'Sign'])).toBe('; did you mean "Sign"?');
  expect(didYouMean('colour', ['gateway', 'mqtt', 'devices'])).toBe('');
});
