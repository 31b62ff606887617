/**
 * The path locator (src/config/locate.ts) against the positional reader (yaml-source.ts, the
 * `yaml` package's own parse): every key and item of each text must be placed where the
 * positional reader places it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { locatePaths } from '../../src/config/locate.js';
import { formatPath, type KeyPath } from '../../src/config/problem.js';
import { readYaml } from '../../src/config/yaml-source.js';
import { seededRandom } from '../helpers/random.js';

/** Every key path in a value, depth first. */
function pathsOf(value: unknown, at: KeyPath = []): KeyPath[] {
  const out: KeyPath[] = [at];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...pathsOf(item, [...at, i])));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...at, k]));
  return out;
}

function expectSamePlaces(text: string, extra: KeyPath[] = [], source = readYaml(text, {})): void {
  expect(source.problems).toEqual([]);
  const paths = [...pathsOf(source.value), ...extra];
  const found = locatePaths(text, paths);
  const misplaced = paths
    .map((p) => ({ path: formatPath(p), found: JSON.stringify(found.get(p)), expected: JSON.stringify(source.map.get(p)) }))
    .filter((p) => p.found !== p.expected)
    .map((p) => `${p.path}: ${p.found}, the positional reader ${p.expected}`);
  expect(misplaced).toEqual([]);
}

const SHAPES: Record<string, string> = {
  'block mappings and lists, a list at its key\'s indentation': [
    'gateway:',
    '  id: line-3',
    'devices:',
    '- name: press',
    '  tags:',
    '    - name: t1',
    '      address: 4',
    '    -   name: t2',
    '        address: 6',
    '- name: oven',
    '  host: 10.0.0.2',
    '',
  ].join('\n'),
  'flow mappings and lists, over several lines': [
    'devices:',
    '  - { name: press, port: 502, tags: [ { name: a, area: holding, address: 0 },',
    '      {name: "b", address: 2, type: float32} ] }',
    '  - [1, 2,',
    '     [3, "x, y"], {}]',
    'empty: []',
    '',
  ].join('\n'),
  'comments, blank lines, quoted keys and values, a document start': [
    '# floorgate',
    '---',
    '"gateway": # the gateway',
    '',
    '  # its id',
    "  'id': 'it''s'",
    '  data_dir: "/var/lib/x # not a comment"',
    'mqtt: {url: "mqtt://h:1883", "qos": 1}   # trailing',
    'note: plain, with colons:inside and a # hash',
    '',
  ].join('\n'),
  'anchors, aliases and merge keys': [
    'x-drive: &drive',
    '  driver: modbus_tcp',
    '  port: 502',
    '  tags: &drive_tags',
    '    - { name: speed, address: 1 }',
    'x-fast: &fast { poll_interval: 100ms, port: 503 }',
    'devices:',
    '  - <<: *drive',
    '    name: d1',
    '  - <<: [*fast, *drive]',
    '    name: d2',
    '    tags: *drive_tags',
    '  - &third',
    '    name: d3',
    '    <<: *drive',
    '  - <<: { port: 504, <<: *fast }',
    '    name: d4',
    'again: *third',
    '',
  ].join('\n'),
  'tags and anchors before values, block scalars': [
    'a: !!str 5',
    'b: &b',
    '  c: |',
    '    c: not a key',
    '    - not an item',
    '  d: >-',
    '    folded',
    'e: [&f 1, !!int 2]',
    '',
  ].join('\n'),
  'CRLF line ends': 'devices:\r\n  - name: p\r\n    tags:\r\n      - { name: t, address: 1 }\r\n',
};

describe('locatePaths places every key and item where the positional reader does', () => {
  for (const [shape, text] of Object.entries(SHAPES)) test(shape, () => expectSamePlaces(text));

  test('the shipped example and demo configs', () => {
    for (const file of ['config/floorgate.example.yaml', 'config/demo.yaml']) {
      expectSamePlaces(fs.readFileSync(path.join(import.meta.dirname, '../..', file), 'utf8'));
    }
  });

  test('an absent value is placed at its key, in a mapping and as a list item', () => {
    expectSamePlaces('a:\nb: 1\nc:\n  - \n  - 2\nd: { e: , f: 1 }\n', [['a'], ['d', 'e']]);
  });
});

describe('locatePaths on texts the yaml package writes (property)', () => {
  const SEED = 20261208;
  test(`300 random documents in block and flow style, indents 2–4, every string style (seed ${SEED})`, () => {
    const random = seededRandom(SEED);
    const pick = <T>(options: readonly T[]): T => options[Math.floor(random() * options.length)];
    const words = ['name', 'address', 'a b', 'x: y', "it's", 'tags', '#hash', '- dash', '', 'über', 'true', '12'];
    const value = (depth: number): unknown => {
      const kind = depth > 3 ? 0 : Math.floor(random() * 4);
      if (kind === 1) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      if (kind >= 2) return Object.fromEntries(Array.from({ length: 1 + Math.floor(random() * 4) }, () => [pick(words), value(depth + 1)]));
      return pick<unknown>([pick(words), Math.floor(random() * 1000), 1.5, true, null, 'multi\nline text']);
    };
    let checked = 0;
    for (let i = 0; i < 300; i++) {
      const doc = { root: value(0), list: [value(1), value(1)] };
      const text = stringify(doc, {
        indent: pick([2, 3, 4]),
        indentSeq: random() < 0.5,
        flowCollectionPadding: random() < 0.5,
        defaultStringType: pick(['PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL'] as const),
        defaultKeyType: pick([null, 'QUOTE_DOUBLE', 'QUOTE_SINGLE'] as const),
        collectionStyle: pick(['any', 'block', 'flow'] as const),
        lineWidth: pick([0, 20, 80]),
      });
      // Now and then the package writes what it will not read back (a comment-like literal line).
      const source = readYaml(text, {});
      if (source.problems.length > 0) continue;
      checked++;
      try {
        expectSamePlaces(text, [], source);
      } catch (err) {
        throw new Error(`document ${i}:\n${text}\n${(err as Error).message}\n${JSON.stringify((err as { actual?: unknown }).actual, null, 1)}`);
      }
    }
    expect(checked).toBeGreaterThan(250);
  });
});

describe('where it cannot follow, it stops at the nearest ancestor', () => {
  test('an explicit key and a key path that is not in the text', () => {
    const text = 'm:\n  ? k\n  : 1\nn:\n  o: 2\n';
    const found = locatePaths(text, [['m', 'k'], ['n', 'missing', 'deeper'], ['n', 'o', 3]]);
    expect(found.get(['m'])).toEqual({ key: 0, value: 5 });
    expect(found.get(['m', 'k'])).toBeUndefined();
    expect(found.offsetOf(['n', 'missing', 'deeper'], 'value')).toBe(text.indexOf('o: 2'));
    expect(found.offsetOf(['n', 'o', 3], 'value')).toBe(text.indexOf('2\n'));
  });
});
