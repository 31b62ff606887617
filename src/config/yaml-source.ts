/**
 * YAML text → plain JS value, remembering where every key and value came from so that a
 * problem found later (by zod, or a cross-field rule) can be reported at its line and column.
 *
 * Done here, while walking the YAML nodes: `${VAR}` expansion in scalar values, duplicate keys
 * (reported at the second occurrence), and "empty means absent": a key whose value is null
 * or empty (`key:`, `key: ~`, or an unquoted `${VAR:-}` that expanded to nothing) is left out,
 * as if it were not written, so defaults apply. Expanded values are strings; the schemas accept
 * the text of a number or boolean where they expect one (see fields.ts).
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { formatPath, type KeyPath } from './problem.js';
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
const MAX_ALIAS_EXPANSIONS = 1000;

export function readYaml(text: string, env: NodeJS.ProcessEnv): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const map = new SourceMap();
  const problems: SourceProblem[] = [];
  const unexpanded = new Set<string>();
  for (const e of [...doc.errors, ...doc.warnings]) {
    const message = e.code === 'MULTIPLE_DOCS' ? 'a config file holds one YAML document: remove the second "---"' : e.message;
    problems.push({ offset: e.pos[0], path: [], message: message.replace(/\s+/g, ' ').trim() });
  }
  if (doc.errors.length > 0) return { value: undefined, map, problems, unexpanded, lineCounter };

  let aliases = 0;
  const walk = (node: unknown, path: KeyPath): unknown => {
    if (isAlias(node)) {
      const target = node.resolve(doc as Document);
      if (++aliases > MAX_ALIAS_EXPANSIONS || target === undefined) {
        problems.push({ offset: node.range?.[0] ?? 0, path, message: target ? 'too many aliases' : `unknown alias *${node.source}` });
        return undefined;
      }
      return walk(target, path);
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const firstAt = new Map<string, number>();
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const keyAt = keyNode?.range?.[0] ?? node.range?.[0] ?? 0;
        if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
          problems.push({ offset: keyAt, path, message: 'a key must be a plain word' });
          continue;
        }
        const key = String(keyNode.value);
        const childPath = [...path, key];
        const first = firstAt.get(key);
        if (first !== undefined) {
          const line = lineCounter.linePos(first).line;
          problems.push({ offset: keyAt, path: childPath, message: `duplicate key "${key}" (first on line ${line})` });
          continue;
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
      }
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
        problems.push({ offset: node.range?.[0] ?? 0, path, message: expanded.message });
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
