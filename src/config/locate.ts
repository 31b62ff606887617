/**
 * Where key paths are in a YAML text, found by reading only the lines along each path: the
 * places of the problems in a config too large for the positional reader (yaml-source.ts holds
 * ~90 bytes of heap per byte of text; this holds a few numbers per collection it passes).
 *
 * The text has already been read by js-yaml without error, so this only has to find its way:
 * block and flow mappings and lists, anchors and aliases, merge keys (`<<`, the mapping's own
 * keys first, then each template's in order), and the places yaml-source.ts gives — a key at
 * the key, a value at its first character past an anchor or tag, an absent value at its key.
 * Where it cannot follow (an explicit `? key`, a key that is itself a collection), it stops,
 * and the problem is placed at the nearest ancestor found, as a missing key is.
 */
import type { KeyPath } from './problem.js';
import { SourceMap } from './yaml-source.js';

interface Entry {
  /** The key's place; undefined for a list item. */
  readonly key?: number;
  /** The value's place; the key's when the value is absent. */
  readonly value: number;
  /** `key:` with nothing after it: nothing to go into. */
  readonly absent: boolean;
}

interface Collection {
  /** A mapping's keys, the first of each name, as a YAML reader keeps them. */
  readonly keys: Map<string, Entry>;
  /** A mapping's merge sources (`<<: *a`, `<<: [*a, *b]`), in order: where each alias is. */
  readonly merges: number[];
  /** A list's items. */
  readonly items: Entry[];
}

export function locatePaths(text: string, paths: readonly KeyPath[]): SourceMap {
  const reader = new PathReader(text);
  const map = new SourceMap();
  for (const path of paths) reader.locate(path, map);
  return map;
}

const isBlank = (ch: string | undefined): boolean => ch === undefined || ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const endsFlowNode = (ch: string | undefined): boolean => ch === undefined || ch === ',' || ch === ']' || ch === '}';

class PathReader {
  /** Collections read so far, by the place of their value (an alias's place included). */
  private readonly collections = new Map<number, Collection | null>();

  constructor(private readonly text: string) {}

  locate(path: KeyPath, map: SourceMap): void {
    let at = this.documentStart();
    map.set([], { value: at });
    for (let n = 0; n < path.length; n++) {
      const entry = this.find(at, path[n], new Set());
      if (entry === undefined) return;
      map.set(path.slice(0, n + 1), entry.key === undefined ? { value: entry.value } : { key: entry.key, value: entry.value });
      if (entry.absent) return;
      at = entry.value;
    }
  }

  /** The entry `step` of the collection at `at`; a key not its own is looked for in its merge sources. */
  private find(at: number, step: string | number, seen: Set<number>): Entry | undefined {
    const c = this.collection(at);
    if (c === null) return undefined;
    if (typeof step === 'number') return c.items[step];
    const own = c.keys.get(step);
    if (own !== undefined) return own;
    for (const source of c.merges) {
      // A template that merges itself is refused by the readers; here it must not loop.
      if (seen.has(source)) continue;
      seen.add(source);
      const merged = this.find(source, step, seen);
      if (merged !== undefined) return merged;
    }
    return undefined;
  }

  private collection(at: number): Collection | null {
    let c = this.collections.get(at);
    if (c === undefined) {
      c = this.read(at);
      this.collections.set(at, c);
    }
    return c;
  }

  private read(at: number): Collection | null {
    const start = this.contentOf(at);
    if (start === undefined) return null;
    const ch = this.text[start];
    if (ch === '{' || ch === '[') return this.flowCollection(start, ch === '{');
    if (ch === '-' && isBlank(this.text[start + 1])) return this.blockSequence(start);
    return this.blockMapping(start);
  }

  /** Where the node at `at` has its content: there, or for an alias, where its anchor's node does. */
  private contentOf(at: number): number | undefined {
    if (this.text[at] !== '*') return at;
    return this.anchorDefinition(this.text.slice(at + 1, this.tokenEnd(at)), at);
  }

  /** The value's place after the last `&name` before `before`: the one an alias there means. */
  private anchorDefinition(name: string, before: number): number | undefined {
    const t = this.text;
    for (let at = t.lastIndexOf(`&${name}`, before); at >= 0; at = t.lastIndexOf(`&${name}`, at - 1)) {
      const end = at + 1 + name.length;
      const startsToken = at === 0 || isBlank(t[at - 1]) || '[{,'.includes(t[at - 1]);
      if (startsToken && (isBlank(t[end]) || endsFlowNode(t[end]))) return this.valueAfter(end, true);
    }
    return undefined;
  }

  /** First character from `at` past spaces (and line breaks and comments, with `lines`). */
  private skip(at: number, lines: boolean): number {
    const t = this.text;
    for (;;) {
      const ch = t[at];
      if (ch === ' ' || ch === '\t' || (lines && (ch === '\r' || ch === '\n'))) at++;
      else if (ch === '#' && (at === 0 || isBlank(t[at - 1])) && lines) at = this.lineEnd(at);
      else return at;
    }
  }

  /**
   * Where a value starts at or after `at` on its line, past an anchor or tag: yaml-source.ts
   * places a node there. With `lines`, one that starts on a later line is looked for too.
   */
  private valueAfter(at: number, lines: boolean): number {
    const t = this.text;
    at = this.skip(at, lines);
    while (t[at] === '&' || t[at] === '!') at = this.skip(this.tokenEnd(at), lines);
    return at;
  }

  private tokenEnd(at: number): number {
    const t = this.text;
    while (at < t.length && !isBlank(t[at]) && !endsFlowNode(t[at])) at++;
    return at;
  }

  private lineEnd(at: number): number {
    const end = this.text.indexOf('\n', at);
    return end < 0 ? this.text.length : end;
  }

  private column(at: number): number {
    return at - (this.text.lastIndexOf('\n', at - 1) + 1);
  }

  /** Whether a node can start at `at`: not the end of its line or of the text, nor a comment. */
  private isContent(at: number): boolean {
    const ch = this.text[at];
    return ch !== undefined && ch !== '\n' && ch !== '\r' && ch !== '#';
  }

  /** The first content of the next line after `at` that holds any (not blank, not a comment). */
  private nextContentLine(at: number): number | undefined {
    for (let line = this.lineEnd(at) + 1; line < this.text.length; line = this.lineEnd(line) + 1) {
      const first = this.skip(line, false);
      if (this.isContent(first)) return first;
    }
    return undefined;
  }

  private documentStart(): number {
    const t = this.text;
    let at = t.charCodeAt(0) === 0xfeff ? 1 : 0;
    for (;;) {
      at = this.skip(at, true);
      if (t[at] === '%') at = this.lineEnd(at);
      else if (t.startsWith('---', at) && isBlank(t[at + 3])) at += 3;
      else return this.valueAfter(at, true);
    }
  }

  /**
   * The value of a block entry whose indicator (`:` or `-`) ends at `after`, in a collection at
   * `column`; the entry starts at `at` (its key, or the item's dash).
   */
  private blockValue(after: number, column: number, at: number, isItem: boolean): Entry {
    const t = this.text;
    const onLine = this.valueAfter(after, false);
    const key = isItem ? undefined : at;
    if (this.isContent(onLine)) return { key, value: onLine, absent: false };
    const next = this.nextContentLine(after);
    if (next !== undefined) {
      const indent = this.column(next);
      // A mapping's list value may sit at the mapping's own indentation.
      if (indent > column || (!isItem && indent === column && t[next] === '-' && isBlank(t[next + 1]))) {
        return { key, value: this.valueAfter(next, true), absent: false };
      }
    }
    // yaml-source.ts places an absent value at its key, the `yaml` package an empty item where it would start.
    return { key, value: isItem ? onLine : at, absent: true };
  }

  private blockMapping(start: number): Collection | null {
    const c: Collection = { keys: new Map(), merges: [], items: [] };
    const column = this.column(start);
    for (let at: number | undefined = start; at !== undefined; at = this.nextAtColumn(at, column, false)) {
      const key = this.blockKey(at);
      if (key === undefined) {
        if (at === start) return null;
        continue;
      }
      this.add(c, key.name, this.blockValue(key.colon + 1, column, at, false));
    }
    return c;
  }

  private blockSequence(start: number): Collection {
    const c: Collection = { keys: new Map(), merges: [], items: [] };
    const column = this.column(start);
    for (let at: number | undefined = start; at !== undefined; at = this.nextAtColumn(at, column, true)) {
      c.items.push(this.blockValue(at + 1, column, at, true));
    }
    return c;
  }

  /** The next entry of a block collection at `column` after the line of `at`; undefined at its end. */
  private nextAtColumn(at: number, column: number, dashes: boolean): number | undefined {
    const t = this.text;
    for (let next = this.nextContentLine(at); next !== undefined; next = this.nextContentLine(next)) {
      const indent = this.column(next);
      if (indent < column) return undefined;
      if (indent > column) continue;
      const dash = t[next] === '-' && isBlank(t[next + 1]);
      if (dashes) return dash ? next : undefined;
      // A list item here belongs to the previous key's value.
      if (!dash) return next;
    }
    return undefined;
  }

  /** A block mapping's key at `at`: its name and where its `:` is; undefined for anything else. */
  private blockKey(at: number): { name: string; colon: number } | undefined {
    const t = this.text;
    const end = this.lineEnd(at);
    let after: number;
    if (t[at] === '"' || t[at] === "'") {
      after = this.quotedEnd(at);
    } else {
      if (t[at] === undefined || '?[]{}&*!|>%@`#'.includes(t[at])) return undefined;
      after = at;
      while (after < end && !(t[after] === ':' && isBlank(t[after + 1]))) after++;
    }
    const colon = this.skip(after, false);
    if (colon >= end || t[colon] !== ':' || !isBlank(t[colon + 1])) return undefined;
    return { name: this.scalar(at, after), colon };
  }

  private flowCollection(start: number, isMapping: boolean): Collection {
    const c: Collection = { keys: new Map(), merges: [], items: [] };
    const t = this.text;
    for (let at = this.skip(start + 1, true); at < t.length && t[at] !== '}' && t[at] !== ']'; at = this.skip(at, true)) {
      if (t[at] === ',') {
        at++;
        continue;
      }
      if (!isMapping) {
        const item = this.valueAfter(at, true);
        c.items.push({ value: item, absent: false });
        at = this.flowNodeEnd(item);
        continue;
      }
      const keyEnd = this.flowNodeEnd(at);
      const name = this.scalar(at, keyEnd);
      let next = this.skip(keyEnd, true);
      let entry: Entry = { key: at, value: at, absent: true };
      if (t[next] === ':') {
        const value = this.valueAfter(next + 1, true);
        if (!endsFlowNode(t[value])) {
          entry = { key: at, value, absent: false };
          next = this.flowNodeEnd(value);
        } else {
          next = value;
        }
      }
      this.add(c, name, entry);
      at = next;
    }
    return c;
  }

  /** Where the flow node starting at `at` ends. */
  private flowNodeEnd(at: number): number {
    const t = this.text;
    const ch = t[at];
    if (ch === '"' || ch === "'") return this.quotedEnd(at);
    if (ch === '{' || ch === '[') {
      let depth = 0;
      for (let i = at; i < t.length; i++) {
        const c = t[i];
        if ((c === '"' || c === "'") && this.startsNode(i)) i = this.quotedEnd(i) - 1;
        else if (c === '{' || c === '[') depth++;
        else if ((c === '}' || c === ']') && --depth === 0) return i + 1;
      }
      return t.length;
    }
    let i = at;
    while (i < t.length && !endsFlowNode(t[i]) && t[i] !== '[' && t[i] !== '{') {
      if (t[i] === ':' && (isBlank(t[i + 1]) || endsFlowNode(t[i + 1]))) break;
      if (t[i] === '#' && isBlank(t[i - 1])) break;
      i++;
    }
    return i;
  }

  /** A quote at `at` opens a quoted scalar, not one inside a plain one (`it's`). */
  private startsNode(at: number): boolean {
    let before = at - 1;
    while (before >= 0 && isBlank(this.text[before])) before--;
    return before < 0 || '{[,:'.includes(this.text[before]);
  }

  /** Just past the closing quote of the quoted scalar at `at`. */
  private quotedEnd(at: number): number {
    const t = this.text;
    const q = t[at];
    for (let i = at + 1; i < t.length; i++) {
      if (q === '"' && t[i] === '\\') i++;
      else if (t[i] === q) {
        if (q === "'" && t[i + 1] === "'") i++;
        else return i + 1;
      }
    }
    return t.length;
  }

  /** A key's name as the readers see it (plain, single- or double-quoted). */
  private scalar(from: number, to: number): string {
    const raw = this.text.slice(from, to).trim();
    if (raw.startsWith("'")) return raw.slice(1, -1).replace(/''/g, "'");
    if (raw.startsWith('"')) {
      try {
        return JSON.parse(raw) as string;
      } catch {
        return raw.slice(1, -1);
      }
    }
    return raw;
  }

  private add(c: Collection, name: string, entry: Entry): void {
    if (name === '<<') {
      if (entry.absent) return;
      // `<<: [*a, *b]` merges each template in order; `<<: *a` (or a mapping written there) the one.
      const list = this.text[entry.value] === '*' ? [] : (this.collection(entry.value)?.items ?? []);
      c.merges.push(...(list.length > 0 ? list.map((item) => item.value) : [entry.value]));
      return;
    }
    if (!c.keys.has(name)) c.keys.set(name, entry);
  }
}
