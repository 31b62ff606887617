import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding floorgate's package.json: src/ under vitest and dist/src/ once compiled
 * sit at different depths, so walk up rather than hard-code either.
 */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === 'floorgate') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find floorgate\'s package.json');
    dir = parent;
  }
}

export const PACKAGE_ROOT = findRoot();
export const VERSION = (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
