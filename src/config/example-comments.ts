/**
 * The comments of the reference config (config/floorgate.example.yaml), by key path: what
 * `floorgate schema` gives editors as each key's description, so the sentences are written once.
 *
 * A key's comment is the comment lines right above it (same indentation, no blank line between)
 * and the comment at the end of its line, with the comment lines below it indented deeper than
 * the key (its continuation). A commented-out key (`# stale_after: 5s   # what it does`) counts
 * as a key, so optional keys the example leaves unset are described too.
 *
 * Paths: `mqtt.keepalive`; inside a device, `devices[modbus_tcp].unit_id`, by driver, as each
 * driver's keys are described by the example's device of that driver.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node, type YAMLMap } from 'yaml';

const COMMENTED_KEY = /^(\s*)#\s*([a-z_]+):\s/;

export function exampleComments(text: string): Map<string, string> {
  const lines = text.split('\n');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const lineStarts = lineCounter.lineStarts;
  const lineOf = (offset: number) => lineCounter.linePos(offset).line - 1;
  const indentOf = (line: string) => line.length - line.trimStart().length;
  const isComment = (line: string) => line.trimStart().startsWith('#');
  const found = new Map<string, string>();

  /** The comment of the key on line `at` whose text after the key (or value) starts at `from`. */
  const commentOf = (at: number, from: number): string => {
    const indent = indentOf(lines[at]);
    const above: string[] = [];
    for (let i = at - 1; i >= 0 && isComment(lines[i]) && indentOf(lines[i]) === indent && !COMMENTED_KEY.test(lines[i]); i--) {
      above.unshift(commentText(lines[i]));
    }
    const tail = /\s#\s?(.*)$/.exec(lines[at].slice(from));
    const after: string[] = [];
    if (tail) {
      after.push(tail[1].trim());
      for (let i = at + 1; i < lines.length && isComment(lines[i]) && indentOf(lines[i]) > indent; i++) after.push(commentText(lines[i]));
    }
    return [...above, ...after].filter((s) => s !== '').join(' ');
  };

  const visitMap = (map: YAMLMap, path: string) => {
    const keyLines = new Set<number>();
    for (const pair of map.items) {
      const key = pair.key as Node | null;
      if (!isScalar(key) || key.range === undefined || key.range === null) continue;
      const value = pair.value as Node | null;
      const at = lineOf(key.range[0]);
      keyLines.add(at);
      // A scalar's comment starts after the value; a mapping's or list's after the key.
      const end = isScalar(value) && value.range ? value.range[1] : key.range[1];
      const comment = commentOf(at, lineOf(end) === at ? end - lineStarts[at] : lines[at].length);
      const childPath = path === '' ? String(key.value) : `${path}.${String(key.value)}`;
      if (comment !== '') found.set(childPath, comment);
      if (isMap(value)) visitMap(value, childPath);
      if (isSeq(value) && childPath === 'devices') visitDevices(value.items as Node[]);
    }
    // Commented-out keys in the mapping's column, between its first and last line.
    const first = map.items[0]?.key as Node | undefined;
    if (map.flow || !first?.range || !map.range) return;
    // The key's column, not the line's indentation: a device's first key follows its "- ".
    const column = lineCounter.linePos(first.range[0]).col - 1;
    for (let i = lineOf(map.range[0]); i <= lineOf(map.range[1]) && i < lines.length; i++) {
      const m = COMMENTED_KEY.exec(lines[i]);
      if (!m || m[1].length !== column || keyLines.has(i)) continue;
      const valueStart = lines[i].indexOf(':', m[0].length - 2) + 1;
      const comment = commentOf(i, valueStart + /\S/.exec(lines[i].slice(valueStart))!.index);
      if (comment !== '') found.set(path === '' ? m[2] : `${path}.${m[2]}`, comment);
    }
  };

  const visitDevices = (devices: readonly Node[]) => {
    for (const device of devices) {
      const driver = isMap(device) ? device.get('driver') : undefined;
      if (isMap(device) && typeof driver === 'string') visitMap(device, `devices[${driver}]`);
    }
  };

  if (isMap(doc.contents)) visitMap(doc.contents, '');
  return found;
}

function commentText(line: string): string {
  return line.trimStart().replace(/^#\s?/, '').trim();
}
