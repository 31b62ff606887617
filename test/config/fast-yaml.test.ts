/**
 * The fast read (js-yaml, no positions) must give exactly the value the positional read
 * (yaml-source.ts, the `yaml` package) gives, or hand the text over: the positional reader is
 * the record it is judged against. Texts with and without aliases and `${VAR}`, since those
 * take different ways through the fast read.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, test } from 'vitest';
import { readYamlFast } from '../../src/config/fast-yaml.js';
import { readYaml } from '../../src/config/yaml-source.js';

const ENV = { X: 'x', EMPTY: '' };

function expectSameAsPositional(text: string): void {
  const fast = readYamlFast(text, ENV);
  const positional = readYaml(text, ENV);
  if (!fast.ok) return;
  expect(positional.problems).toEqual([]);
  expect(fast.value).toEqual(positional.value);
  // toEqual overlooks a key holding undefined; the loader's strict schemas do not. Key order
  // is not compared (merge keys order them differently, and nothing reads the order).
  expect(keysAndValues(fast.value)).toEqual(keysAndValues(positional.value));
}

/** Every path to a leaf with the leaf's type and value, sorted: a key holding undefined shows. */
function keysAndValues(value: unknown, at = '', out: string[] = []): string[] {
  if (typeof value === 'object' && value !== null) {
    out.push(`${at} ${Array.isArray(value) ? 'list' : 'mapping'}`);
    for (const [key, child] of Object.entries(value)) keysAndValues(child, `${at}/${key}`, out);
  } else {
    out.push(`${at} ${typeof value} ${String(value)}`);
  }
  return out.sort();
}

describe('fast read = positional read', () => {
  test.each([
    ['empty values are left out of mappings, kept in lists', 'a:\nb: ~\nc: [1, null, ~]\nd: { e: , f: 2 }\n'],
    ['core-schema scalars', 'a: [0o17, 0x1F, 1_000, 0b1, 1e3, .5, -.inf, .nan, +12, 012, yes, True, NULL, 1.]\n'],
    ['a __proto__ key stays an ordinary key', '__proto__: { polluted: 1 }\nx: { __proto__: 2 }\n'],
    ['merge keys from an inline mapping', 'a: { <<: { x: 1, y: 2 }, y: 3 }\n'],
    ['aliases get their own copies', 'x-t: &t { a: 1, b: }\nd: [*t, { <<: *t, c: 2 }]\n'],
    ['${VAR} expands, an unquoted empty one leaves the key out', 'a: ${X}\nb: ${EMPTY}\nc: "${X}"\n'],
    ['${VAR} in a block list, and under a __proto__ key', 'l:\n  - ${X}\n  - ${EMPTY}\n  - a\n__proto__: ${X}\nm: { __proto__: "${X}" }\n'],
    ['${VAR} beside aliases', 'x-t: &t { a: "${X}" }\nd: [*t, { <<: *t, b: "${X}" }]\n'],
    ['a `*` inside a string only', 'pattern: "a*b"\nlist: [ "*", x ]\n'],
    ['flow tags as the large configs write them', 'tags:\n  - { name: t0, area: holding, address: 0, type: float32 }\n  - { name: t1, area: input, address: 65535, type: uint16, scale: 0.1 }\n'],
  ])('%s', (_name, text) => {
    expect(readYamlFast(text, ENV).ok).toBe(true);
    expectSameAsPositional(text);
  });

  test('random documents', () => {
    const scalar = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('*', '${X}', '${EMPTY}', '~', '0o7'));
    fc.assert(fc.property(fc.object({ maxDepth: 4, values: [scalar] }), (value) => {
      expectSameAsPositional(stringify(value));
      expectSameAsPositional(stringify(value, { defaultStringType: 'PLAIN', collectionStyle: 'flow' }));
    }), { numRuns: 300 });
  });
});
