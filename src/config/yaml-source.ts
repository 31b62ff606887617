/**
 * YAML text → plain JS value, remembering where every key and value came from so that a
 * problem found later (by zod, or a cross-field rule) can be reported at its line and column.
 *
 * Done here, while walking the YAML nodes: `${VAR}` expansion in scalar values, duplicate keys
 * (reported at the second occurrence), and "empty means absent": a key whose value is null
 * or empty (`key:`, `key: ~`, or an unquoted `${VAR:-}` that expanded to nothing) is left out,
 * as if it were not written, so defaults apply. Expanded values are strings; the schemas accept
 * the text of a number or boolean where they expect one (see fields.ts).
 *
 * Merge keys (YAML 1.1 `<<: *template`, or a list of templates) are applied here too: the
 * mapping's own keys win wherever the `<<` stands, then the templates' keys in list order. A
 * merged key is located where the template writes it, which is where a mistake in it is fixed.
 */
import { createRequire } from 'node:module';
import type { Document, LineCounter, Node, Pair, YAMLMap } from 'yaml';
import { formatPath, type KeyPath } from './problem.js';
import { repr } from './words.js';
import { expandEnv } from './env.js';

/** Offsets into the text of a value, and of its key when it is a mapping entry. */
export interface Located {
  readonly key?: number;
  readonly value: number;
}

export interface SourceProblem {
  readonly offset: number;
  readonly path: KeyPath;
  readonly message: string;
}

/** Where each key path sits in the text. */
export class SourceMap {
  private readonly byPath = new Map<string, Located>();

  set(path: KeyPath, where: Located): void {
    this.byPath.set(formatPath(path), where);
  }

  get(path: KeyPath): Located | undefined {
    return this.byPath.get(formatPath(path));
  }

  /** The offset for `path`, else for its nearest ancestor that is in the text (e.g. the mapping missing a key). */
  offsetOf(path: KeyPath, at: 'key' | 'value'): number {
    for (let n = path.length; n >= 0; n--) {
      const where = this.get(path.slice(0, n));
      if (where) return n === path.length && at === 'key' ? (where.key ?? where.value) : where.value;
    }
    return 0;
  }
}

export interface YamlSource {
  /** undefined when the text has syntax errors (they are in `problems`) or holds no document. */
  readonly value: unknown;
  readonly map: SourceMap;
  readonly problems: SourceProblem[];
  /** Paths whose value could not be expanded: already reported, so later complaints about them are noise. */
  readonly unexpanded: ReadonlySet<string>;
  readonly lineCounter: LineCounter;
}

/** Aliases are expanded in place; this bounds a "billion laughs" document. */
export const MAX_ALIAS_EXPANSIONS = 1000;

/**
 * The `yaml` package, loaded on first use: a valid config never needs it (load.ts reads it with
 * js-yaml first), and the module costs a running daemon ~2 MB of RSS.
 */
const yamlPackage = (): typeof import('yaml') => createRequire(import.meta.url)('yaml') as typeof import('yaml');

/** The lines of a text read without the positional reader, to place its problems. */
export function lineCounterOf(text: string): LineCounter {
  const lineCounter = new (yamlPackage().LineCounter)();
  lineCounter.addNewLine(0);
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) lineCounter.addNewLine(at + 1);
  return lineCounter;
}

export function readYaml(text: string, env: NodeJS.ProcessEnv): YamlSource {
  const { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } = yamlPackage();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, merge: true });
  const map = new SourceMap();
  const problems: SourceProblem[] = [];
  const unexpanded = new Set<string>();
  for (const e of [...doc.errors, ...doc.warnings]) {
    const message = e.code === 'MULTIPLE_DOCS' ? 'a config file holds one YAML document: remove the second "---"' : e.message;
    problems.push({ offset: e.pos[0], path: [], message: message.replace(/\s+/g, ' ').trim() });
  }
  if (doc.errors.length > 0) return { value: undefined, map, problems, unexpanded, lineCounter };

  let aliases = 0;
  const reported = new WeakSet<Node>();
  /** The node an alias stands for, or undefined (reported) when it is unknown or one too many. */
  const resolve = (node: Node, path: KeyPath): unknown => {
    if (!isAlias(node)) return node;
    const target = node.resolve(doc as Document);
    if (++aliases > MAX_ALIAS_EXPANSIONS || target === undefined) {
      problems.push({ offset: node.range?.[0] ?? 0, path, message: target ? 'too many aliases' : `unknown alias *${node.source}` });
      return undefined;
    }
    return target;
  };
  /** The entries a `<<` brings into the mapping at `path`: each template's own, then what it merges itself. */
  const mergedPairs = (merge: Pair, path: KeyPath): Pair[] => {
    const value = merge.value as Node | null;
    const sources = isSeq(value) ? (value.items as Node[]) : [value];
    return sources.flatMap((source) => {
      const template = source === null ? undefined : resolve(source, path);
      if (isMap(template)) {
        const { own, merged } = entriesOf(template, path);
        return [...own, ...merged];
      }
      // An unknown alias or one too many is reported already.
      if (template !== undefined || !isAlias(source)) {
        const got = isScalar(template) ? repr(template.value) : isSeq(template) ? 'a list' : 'nothing';
        const offset = source?.range?.[0] ?? (merge.key as Node).range?.[0] ?? 0;
        problems.push({ offset, path, message: `a merge key (<<) takes a mapping or a list of mappings, got ${got}` });
      }
      return [];
    });
  };
  /** A mapping's own entries, and those its merge keys bring (a key may come several times: the first wins). */
  const entriesOf = (node: YAMLMap, path: KeyPath): { own: Pair[]; merged: Pair[] } => {
    const isMerge = (pair: Pair) => isScalar(pair.key) && typeof pair.key.value === 'symbol';
    return {
      own: node.items.filter((pair) => !isMerge(pair)),
      merged: node.items.filter(isMerge).flatMap((pair) => mergedPairs(pair, path)),
    };
  };
  const walk = (node: unknown, path: KeyPath): unknown => {
    if (isAlias(node)) {
      const target = resolve(node, path);
      return target === undefined ? undefined : walk(target, path);
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const firstAt = new Map<string, number>();
      const { own, merged } = entriesOf(node, path);
      const add = (pair: Pair, fromMerge: boolean) => {
        const keyNode = pair.key as Node | null;
        const keyAt = keyNode?.range?.[0] ?? node.range?.[0] ?? 0;
        if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
          problems.push({ offset: keyAt, path, message: 'a key must be a plain word' });
          return;
        }
        const key = String(keyNode.value);
        const childPath = [...path, key];
        const first = firstAt.get(key);
        if (first !== undefined) {
          // A merged key the mapping (or an earlier template) sets already is overridden, not a mistake.
          if (!fromMerge) {
            const line = lineCounter.linePos(first).line;
            problems.push({ offset: keyAt, path: childPath, message: `duplicate key "${key}" (first on line ${line})` });
          }
          return;
        }
        firstAt.set(key, keyAt);
        const valueNode = pair.value as Node | null;
        map.set(childPath, { key: keyAt, value: valueNode?.range?.[0] ?? keyAt });
        const value = walk(valueNode, childPath);
        if (value === undefined) {
          // An absent value has no place of its own: its key stands for it.
          map.set(childPath, { key: keyAt, value: keyAt });
        } else {
          // defineProperty, not assignment: a "__proto__" key must stay an ordinary (unknown) key.
          Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
        }
      };
      for (const pair of own) add(pair, false);
      for (const pair of merged) add(pair, true);
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const itemPath = [...path, i];
        map.set(itemPath, { value: (item as Node | null)?.range?.[0] ?? node.range?.[0] ?? 0 });
        return walk(item, itemPath) ?? null;
      });
    }
    if (isScalar(node)) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return node.value ?? undefined;
      const expanded = expandEnv(node.value, env);
      if (!expanded.ok) {
        // A value in a template is walked once per use: one report at its place is enough.
        if (!reported.has(node)) problems.push({ offset: node.range?.[0] ?? 0, path, message: expanded.message });
        reported.add(node);
        unexpanded.add(formatPath(path));
        return node.value;
      }
      // Unquoted and expanded to nothing: like `key:` with no value, i.e. not set.
      return expanded.text === '' && node.type === 'PLAIN' ? undefined : expanded.text;
    }
    return undefined;
  };

  if (doc.contents) map.set([], { value: doc.contents.range?.[0] ?? 0 });
  return { value: walk(doc.contents, []), map, problems, unexpanded, lineCounter };
}
