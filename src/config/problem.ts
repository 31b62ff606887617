/**
 * A configuration problem and how it is printed.
 *
 * Key paths use one notation everywhere: mapping keys joined by dots, list items as [index],
 * e.g. `devices[0].tags[2].address`. A problem that belongs to no key (a YAML syntax error, an
 * unreadable or empty file) has the path `(root)`.
 */

export type KeyPath = readonly (string | number)[];

export interface ConfigProblem {
  readonly file: string;
  /** 1-based */
  readonly line: number;
  /** 1-based */
  readonly col: number;
  readonly path: string;
  readonly message: string;
}

export const ROOT_PATH = '(root)';

export function formatPath(path: KeyPath): string {
  if (path.length === 0) return ROOT_PATH;
  let out = '';
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

/** `FILE:LINE:COL: key.path: message` */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`;
}
