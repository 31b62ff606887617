/**
 * YAML text → plain JS value, fast and without source positions: the first try of every load.
 *
 * yaml-source.ts keeps a node with its range for every key and value, which costs ~100 bytes of
 * heap per byte of text (a 7 MB config of 100,000 tags would need ~700 MB). js-yaml builds the
 * plain value directly, ~15× faster in a fraction of the memory. Positions are only needed to
 * report a problem, so a config that validates never pays for them; one that does not is read
 * again by yaml-source.ts.
 *
 * The value must be exactly what yaml-source.ts would give, so anything where the two could
 * differ is not decided here: the answer is undefined ("read it with positions") for a syntax
 * error, an unknown tag, a duplicate key, a merge of a non-mapping, an empty document, a
 * `${VAR}` that does not expand, an unquoted `${VAR}` that expands to nothing in a text also
 * written quoted, or more alias uses than yaml-source.ts allows. Scalars are resolved as the
 * YAML 1.2 core schema of the `yaml` package resolves them (js-yaml's own also takes `1_000`,
 * `0b1`, …).
 */
import jsYaml from 'js-yaml';
import { expandEnv } from './env.js';
import { MAX_ALIAS_EXPANSIONS, type SourceProblem } from './yaml-source.js';

/**
 * Every int and float of the core schema starts with a digit, a sign or a dot: other plain
 * scalars (keys, names, enum words: most of a config) skip the four regular expressions.
 */
function mayBeNumber(text: string): boolean {
  const c = text.charCodeAt(0);
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e;
}

const coreInt = new jsYaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (text: string) => mayBeNumber(text) && /^[-+]?[0-9]+$|^0o[0-7]+$|^0x[0-9a-fA-F]+$/.test(text),
  construct: (text: string) => (text.startsWith('0o') ? parseInt(text.slice(2), 8) : Number(text)),
});

const coreFloat = new jsYaml.Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (text: string) => mayBeNumber(text) && (
    /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(text) ||
    /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(text) ||
    /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(text)),
  construct: (text: string) => {
    if (/nan$/i.test(text)) return NaN;
    if (/inf$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
    return parseFloat(text);
  },
});

const CORE_SCHEMA = jsYaml.FAILSAFE_SCHEMA.extend({
  implicit: [jsYaml.types.null, jsYaml.types.bool, coreInt, coreFloat, jsYaml.types.merge],
});

/** How each text holding `${` was written: plain (unquoted) or not; 'both' when written both ways. */
type Styles = Map<string, boolean | 'both'>;

/**
 * ok: false when the text needs the positional reader (see above), with js-yaml's complaint
 * when it had one, else why in words: the only word on what is wrong with a text too large
 * for that reader.
 */
export type FastRead =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly problem: SourceProblem }
  | { readonly ok: false; readonly problem?: undefined; readonly why: string };

export function readYamlFast(text: string, env: NodeJS.ProcessEnv): FastRead {
  // Without a `*` there is no alias: js-yaml's tree shares nothing and is made the value in
  // place (`${VAR}` expanded, empty values taken out). Without `${` either, no node is recorded.
  const aliases = text.includes('*');
  const styles: Styles = new Map();
  const recorder = aliases || text.includes('${') ? nodeRecorder(text, styles, aliases) : undefined;
  let parsed: unknown;
  try {
    parsed = jsYaml.load(text, { schema: CORE_SCHEMA, listener: recorder?.listener });
  } catch (err) {
    const { reason, mark } = err as { reason?: string; mark?: { position: number } };
    return reason === undefined
      ? { ok: false, why: (err as Error).message }
      : { ok: false, problem: { offset: mark?.position ?? 0, path: [], message: reason } };
  }
  if (parsed === undefined || parsed === null) return { ok: false, why: 'the file holds no configuration' };
  if ((recorder?.aliasUses() ?? 0) > MAX_ALIAS_EXPANSIONS) return { ok: false, why: `more than ${MAX_ALIAS_EXPANSIONS} uses of aliases` };
  try {
    return { ok: true, value: aliases ? plainCopy(parsed, env, styles) : settledInPlace(parsed, env, styles) };
  } catch (err) {
    if (err instanceof NeedsPositions) return { ok: false, why: err.message };
    throw err;
  }
}

class NeedsPositions extends Error {}

/**
 * Called by js-yaml as each node opens and closes. Notes whether each scalar holding `${` was
 * written plain (only an unquoted one that expands to nothing means "not set"), and counts alias
 * uses as yaml-source.ts would expand them, at most: js-yaml shares one object among an
 * anchor's uses, so a "billion laughs" costs it nothing, but it would cost the copy below and
 * yaml-source.ts refuses it. Where each open node starts and the alias uses inside it so far are
 * two stacks of numbers: an object per node was garbage by the hundred thousand.
 */
function nodeRecorder(text: string, styles: Styles, countAliases: boolean) {
  const starts: number[] = [0];
  const usesInside: number[] = [0];
  const usesOfAnchor = new Map<string, number>();
  const listener = (event: 'open' | 'close', state: { position: number; kind: string | null; result: unknown }): void => {
    if (event === 'open') {
      starts.push(state.position);
      usesInside.push(0);
      return;
    }
    const from = starts.pop()!;
    const inside = usesInside.pop()!;
    const withEnv = state.kind === 'scalar' && typeof state.result === 'string' && state.result.includes('${');
    if (!countAliases && !withEnv) return;
    const { anchor, contentAt } = properties(text, from);
    if (countAliases) {
      const alias = text[contentAt] === '*' ? text.slice(contentAt + 1).match(/^[^\s,[\]{}]+/)?.[0] : undefined;
      const uses = alias === undefined ? inside : 1 + (usesOfAnchor.get(alias) ?? 0);
      if (anchor !== undefined) usesOfAnchor.set(anchor, uses);
      usesInside[usesInside.length - 1] += uses;
    }
    if (!withEnv) return;
    const plain = !`"'|>`.includes(text[contentAt] ?? '');
    const earlier = styles.get(state.result as string);
    styles.set(state.result as string, earlier === undefined || earlier === plain ? plain : 'both');
  };
  return { listener, aliasUses: () => usesInside[0] };
}

/** A node's anchor, and where its content starts: past spaces, line breaks, comments, the anchor and a tag. */
function properties(text: string, from: number): { anchor?: string; contentAt: number } {
  let at = from;
  let anchor: string | undefined;
  for (;;) {
    const ch = text[at];
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') at++;
    else if (ch === '#') while (at < text.length && text[at] !== '\n') at++;
    else if (ch === '&' || ch === '!') {
      const start = at;
      while (at < text.length && !' \t\r\n'.includes(text[at])) at++;
      if (ch === '&') anchor = text.slice(start + 1, at);
    } else return { anchor, contentAt: at };
  }
}

/**
 * A fresh tree (js-yaml shares one object among an anchor's uses; each use gets its own copy,
 * as yaml-source.ts gives), with `${VAR}` expanded and empty values left out.
 */
function plainCopy(root: unknown, env: NodeJS.ProcessEnv, styles: Styles): unknown {
  // An alias inside its own anchor (`&g { x: *g }`) is a cycle in js-yaml's tree: the positional
  // reader says where it is, so it is handed over rather than copied forever.
  const open = new Set<object>();
  const copy = (value: unknown): unknown => {
    if (typeof value === 'string') return expanded(value, env, styles);
    if (typeof value !== 'object' || value === null) return value ?? undefined;
    if (open.has(value)) throw new NeedsPositions('an alias inside its own anchor');
    open.add(value);
    try {
      if (Array.isArray(value)) return value.map((item) => copy(item) ?? null);
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        const v = copy(child);
        // defineProperty, not assignment: a "__proto__" key must stay an ordinary (unknown) key.
        if (v !== undefined) Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      }
      return out;
    } finally {
      open.delete(value);
    }
  };
  return copy(root);
}

/**
 * What plainCopy gives for a tree without aliases, made of the tree itself: `${VAR}` expanded,
 * empty values left out of mappings (null in lists).
 */
function settledInPlace(value: unknown, env: NodeJS.ProcessEnv, styles: Styles): unknown {
  if (typeof value === 'string') return expanded(value, env, styles);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = settledInPlace(value[i], env, styles) ?? null;
  } else if (typeof value === 'object' && value !== null) {
    const mapping = value as Record<string, unknown>;
    for (const key in mapping) {
      const child = mapping[key];
      const settled = child === null ? undefined : settledInPlace(child, env, styles);
      if (settled === undefined) delete mapping[key];
      // The key is the mapping's own, so even "__proto__" is written as an ordinary key.
      else if (settled !== child) mapping[key] = settled;
    }
  }
  return value ?? undefined;
}

function expanded(value: string, env: NodeJS.ProcessEnv, styles: Styles): string | undefined {
  if (!value.includes('${')) return value;
  const result = expandEnv(value, env);
  if (!result.ok) throw new NeedsPositions(result.message);
  if (result.text !== '') return result.text;
  const plain = styles.get(value);
  if (plain === undefined || plain === 'both') throw new NeedsPositions(`"${value}" expands to nothing, and it is written both quoted and unquoted`);
  return plain ? undefined : '';
}
