/**
 * `password_file: PATH` → `password: <the file's content>`, wherever a mapping has it (mqtt,
 * opcua devices). Done before validation so the schemas only know `password`.
 *
 * The file loses ONE trailing newline (\n or \r\n): `echo secret > file` must give "secret",
 * but a password that really ends in whitespace survives. A relative PATH is resolved against
 * the config file's directory. A file other users can read is refused: the point of keeping a
 * secret in its own file is that only floorgate's user can read it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SourceMap, SourceProblem } from './yaml-source.js';

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
};

export function readPasswordFiles(
  value: unknown,
  map: SourceMap,
  baseDir: string,
  problems: SourceProblem[],
  at: Array<string | number> = [],
): void {
  // `at` is one path, pushed and popped on the way: a copy for every node of a 50,000-tag
  // config was most of this walk's time. Only a password_file gets its own copy.
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      at.push(i);
      readPasswordFiles(value[i], map, baseDir, problems, at);
      at.pop();
    }
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const child = obj[key];
    if (typeof child !== 'object' || child === null) continue;
    at.push(key);
    readPasswordFiles(child, map, baseDir, problems, at);
    at.pop();
  }
  if (!Object.hasOwn(obj, 'password_file')) return;

  const filePath = [...at, 'password_file'];
  const file = obj.password_file;
  delete obj.password_file;
  const fail = (message: string, where: 'key' | 'value' = 'key'): void => {
    problems.push({ offset: map.offsetOf(filePath, where), path: filePath, message });
  };

  if (Object.hasOwn(obj, 'password')) return fail('use either password or password_file, not both');
  if (typeof file !== 'string') return fail('expected a file path', 'value');
  const resolved = path.resolve(baseDir, file);
  let secret: string;
  try {
    const mode = fs.statSync(resolved).mode;
    // Windows has no POSIX mode bits worth checking.
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      const octal = (mode & 0o777).toString(8).padStart(4, '0');
      return fail(`${file} is readable by other users (mode ${octal}); chmod 600 it`);
    }
    secret = fs.readFileSync(resolved, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return fail(`cannot read ${file}: ${FILE_ERRORS[code] ?? (err as Error).message}`);
  }
  obj.password = secret.replace(/\r?\n$/, '');
  const where = map.get(filePath);
  if (where) map.set([...at, 'password'], where);
}
